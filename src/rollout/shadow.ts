// Shadow mode: a share (the rollout percent) of champion requests is replayed against the challenger
// after the client already has the champion's answer. The client never waits for, sees, or suffers
// from a shadow call; shadow calls are measured with variant="shadow" and bounded by a per-route
// budget on this replica (max concurrent calls, max USD in the last hour). What the budget turns
// away is skipped and counted in bellwether_shadow_skipped_total.
import type { ModelConfig, RouteConfig } from '../config/types.js';
import type { GatewayContext } from '../gateway/context.js';
import type { RequestLedger } from '../gateway/ledger.js';
import type { Provider } from '../providers/types.js';
import type { Usage } from '../accounting/usage.js';
import { costUsd } from '../accounting/cost.js';
import { pricingFor } from '../accounting/pricing.js';
import { providerFor } from '../gateway/responses-adapter.js';
import { upstreamBody } from '../gateway/inference.js';
import { guard } from '../gateway/attempts.js';
import { carriesOutput } from '../gateway/first-token.js';
import { Cancellation } from '../providers/cancellation.js';
import { asGatewayError, type ErrorClass } from '../gateway/errors.js';
import { effectivePercent } from './state.js';
import type { ShadowSkipReason } from '../telemetry/metrics.js';


const MINUTE_MS = 60_000;

/** Spend over the last hour in one-minute buckets: O(60) memory per route, no per-call records. */
export class HourlySpend {
  private readonly buckets = new Float64Array(60);
  private readonly minutes = new Float64Array(60);

  add(usd: number, nowMs = Date.now()): void {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const i = minute % 60;
    if (this.minutes[i] !== minute) {
      this.minutes[i] = minute;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + usd;
  }

  total(nowMs = Date.now()): number {
    const minute = Math.floor(nowMs / MINUTE_MS);
    let sum = 0;
    for (let i = 0; i < 60; i++) {
      if (minute - (this.minutes[i] ?? 0) < 60) sum += this.buckets[i] ?? 0;
    }
    return sum;
  }
}

interface ShadowCall {
  ledger: RequestLedger;
  route: RouteConfig;
  model: ModelConfig;
  provider: Provider;
}

interface ShadowResult {
  errorClass: ErrorClass;
  usage: Usage | undefined;
  ttftMs: number | undefined;
  durationMs: number;
}

export class ShadowMirror {
  private readonly inflight = new Map<string, number>();
  private readonly spend = new Map<string, HourlySpend>();
  private readonly running = new Set<Promise<void>>();
  /** The calls in flight, so shutdown can end them. */
  private readonly calls = new Set<Cancellation>();
  private readonly unpricedWarned = new Set<string>();
  private closed = false;

  /** `sample` decides whether a request is copied; injectable so tests are deterministic. */
  constructor(
    private readonly ctx: GatewayContext,
    private readonly sample: (percent: number) => boolean = (percent) => Math.random() * 100 < percent,
  ) {}

  /** The completion listener: decides synchronously and starts the shadow call in the background. */
  readonly listener = (ledger: RequestLedger): void => {
    if (this.closed) return;
    const call = this.select(ledger);
    if (!call) return;
    const route = call.route.name;
    if ((this.inflight.get(route) ?? 0) >= call.route.shadow.maxConcurrent) return this.skip(route, 'concurrency');
    if (this.spendOf(route).total() >= call.route.shadow.maxUsdPerHour) return this.skip(route, 'budget');
    this.inflight.set(route, (this.inflight.get(route) ?? 0) + 1);
    const task = this.mirror(call)
      .catch((err: unknown) => this.ctx.logger.error({ err, request_id: ledger.requestId }, 'shadow call failed unexpectedly'))
      .finally(() => {
        this.inflight.set(route, (this.inflight.get(route) ?? 1) - 1);
        this.running.delete(task);
      });
    this.running.add(task);
  };

  /**
   * Shutdown: no new copies, and the ones in flight are ended rather than waited for — their clients
   * have their answers, and a shadow stream of a slow model would hold the shutdown for its whole
   * grace period (a provider's connection pool waits for its requests). A call ended here is not
   * measured: its error is the shutdown's, not the challenger's. Resolves with how many were ended,
   * once they have settled.
   */
  async close(): Promise<number> {
    this.closed = true;
    const ended = this.calls.size;
    for (const call of this.calls) call.abort(new Error('gateway shutting down'));
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    return ended;
  }

  private select(ledger: RequestLedger): ShadowCall | undefined {
    // Forced requests are evals/debugging; bad requests say nothing about a model.
    if (ledger.forced || ledger.variant !== 'champion' || ledger.errorClass === 'bad_request') return undefined;
    const route = ledger.route;
    const state = this.ctx.rollouts.current(route.name);
    if (!route.shadow.allowed || !state || state.mode !== 'shadow' || !state.challenger) return undefined;
    const percent = effectivePercent(state, this.ctx.rollouts.health().stale);
    if (percent <= 0 || !this.sample(percent)) return undefined;
    const model = this.ctx.config.models[state.challenger];
    const configured = model ? this.ctx.providers.get(model.provider) : undefined;
    // Through the same adapter as the client's own calls: a chat-only provider answers /v1/responses too.
    const provider = configured && providerFor(configured, ledger.operation);
    if (!model || !provider || !provider.supports(ledger.operation)) return undefined;
    return { ledger, route, model, provider };
  }

  private skip(route: string, reason: ShadowSkipReason): void {
    this.ctx.metrics.shadowSkipped.inc({ route, reason });
  }

  private spendOf(route: string): HourlySpend {
    let spend = this.spend.get(route);
    if (!spend) this.spend.set(route, (spend = new HourlySpend()));
    return spend;
  }

  private async mirror(call: ShadowCall): Promise<void> {
    const result = await this.execute(call);
    if (result.errorClass !== 'none' && this.closed) return;
    const cost = costUsd(result.usage, pricingFor(call.model, call.provider.type).pricing);
    if (cost !== undefined) this.spendOf(call.route.name).add(cost);
    else if (result.errorClass === 'none' && !this.unpricedWarned.has(call.model.name)) {
      this.unpricedWarned.add(call.model.name);
      this.ctx.logger.warn({ route: call.route.name, model: call.model.name }, 'shadow calls to an unpriced model: only shadow.maxConcurrent limits them');
    }
    this.record(call, result, cost);
  }

  private async execute({ ledger, route, model, provider }: ShadowCall): Promise<ShadowResult> {
    const started = performance.now();
    const result: ShadowResult = { errorClass: 'none', usage: undefined, ttftMs: undefined, durationMs: 0 };
    const body = upstreamBody(ledger.operation, ledger.request, model, ledger.stream);
    const cancel = new Cancellation();
    this.calls.add(cancel);
    const total = guard(cancel, route.timeouts.totalMs, 'total');
    try {
      const response = await provider.call({
        operation: ledger.operation,
        model,
        body,
        stream: ledger.stream,
        cancel,
        connectTimeoutMs: route.timeouts.connectMs,
      });
      if (response.kind === 'json') result.usage = response.usage;
      else {
        for await (const event of response.events) {
          if (result.ttftMs === undefined && carriesOutput(event)) result.ttftMs = performance.now() - started;
          if (event.usage) result.usage = event.usage;
        }
      }
    } catch (err) {
      result.errorClass = asGatewayError(err).errorClass;
    } finally {
      clearTimeout(total);
      this.calls.delete(cancel);
    }
    result.durationMs = performance.now() - started;
    return result;
  }

  private record({ ledger, route, model, provider }: ShadowCall, result: ShadowResult, cost: number | undefined): void {
    const metrics = this.ctx.metrics;
    const labels = { route: route.name, variant: 'shadow' as const, model: model.name };
    const outcome = result.errorClass === 'none' ? 'success' : 'error';
    const stream = String(ledger.stream);
    const seconds = result.durationMs / 1000;
    metrics.requests.inc({ ...labels, stream, outcome, error_class: result.errorClass });
    metrics.requestDuration.observe({ ...labels, stream, outcome }, seconds);
    metrics.upstreamRequests.inc({ ...labels, provider: provider.name, attempt: 'first', outcome, error_class: result.errorClass });
    metrics.upstreamDuration.observe({ ...labels, provider: provider.name, outcome }, seconds);
    if (result.ttftMs !== undefined) metrics.ttft.observe(labels, result.ttftMs / 1000);
    if (result.usage) metrics.addUsage(route.name, 'shadow', model.name, result.usage);
    if (cost !== undefined) metrics.cost.inc(labels, cost);
    else if (outcome === 'success' || result.usage) metrics.costUnknown.inc(labels);
    this.ctx.logger.info(
      { request_id: ledger.requestId, route: route.name, variant: 'shadow', model: model.name, stream: ledger.stream, outcome, error_class: result.errorClass, duration_ms: Math.round(result.durationMs), tokens: result.usage ?? null, cost_usd: cost ?? null },
      'shadow request completed',
    );
  }
}
