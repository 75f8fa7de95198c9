// Online quality checks: the route's `checks:` run on finished responses, off the request path, at the
// same rate for both arms. A check that throws counts as result="error", never as a pass.
import type { Config, RouteCheck } from '../config/types.js';
import type { RequestLedger } from '../gateway/ledger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { compileCheck, evaluate, type CheckOutcome, type CompiledCheck } from './index.js';
import { textOf } from '../providers/chat-wire.js';

export interface CheckRun {
  check: string;
  outcome: CheckOutcome;
}

export class OnlineChecks {
  private readonly byRoute = new Map<string, { checks: { check: CompiledCheck; when: RouteCheck['when'] }[]; rate: number }>();

  constructor(
    config: Config,
    private readonly metrics: Metrics,
    private readonly random: () => number = Math.random,
  ) {
    for (const route of Object.values(config.routes)) {
      if (route.checks.length > 0) {
        this.byRoute.set(route.name, { checks: route.checks.map((c) => ({ check: compileCheck(c.spec), when: c.when })), rate: route.checksSampleRate });
      }
    }
  }

  /** Runs the route's checks on a successful answer; [] when the route has none or it wasn't drawn. */
  run(ledger: RequestLedger): CheckRun[] {
    const entry = this.byRoute.get(ledger.route.name);
    if (!entry || ledger.errorClass !== 'none' || !ledger.response) return [];
    if (entry.rate < 1 && this.random() >= entry.rate) return [];
    const model = ledger.answeredBy?.name ?? ledger.route.champion;
    const input = {
      output: ledger.response.content,
      finishReason: ledger.response.finishReason,
      toolCalls: ledger.response.toolCalls.map((c) => ({ name: c.name, arguments: c.arguments })),
      ...(ledger.usage ? { usage: { outputTokens: ledger.usage.output } } : {}),
      sources: { input: lastUserText(ledger.request.messages) },
    };
    const runs: CheckRun[] = [];
    const body = ledger.request;
    const format = (body.response_format as { type?: string } | undefined)?.type;
    const applies = { always: true, json: format === 'json_object' || format === 'json_schema', tools: Array.isArray(body.tools) && body.tools.length > 0 };
    for (const { check, when } of entry.checks) {
      if (!applies[when]) continue;
      const outcome = evaluate(check, input);
      if (!ledger.forced) this.metrics.qualityChecks.inc({ route: ledger.route.name, variant: ledger.variant, model, check: check.name, result: outcome.result });
      runs.push({ check: check.name, outcome });
    }
    return runs;
  }
}

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string; content?: unknown };
    if (m?.role === 'user') return textOf(m.content);
  }
  return '';
}
