// The one place a finished request becomes metrics and the wide log line. Attribution follows
// intention to treat: every series carries the ASSIGNED variant; `model` is the model that answered.
import type { Logger } from 'pino';
import type { Metrics } from '../telemetry/metrics.js';
import type { RequestLedger } from '../gateway/ledger.js';
import { writeMembers } from '../telemetry/logger.js';
import { wideLineMembers } from './wide-line.js';

export function recordRequest(metrics: Metrics, logger: Logger, ledger: RequestLedger): void {
  const route = ledger.route.name;
  const variant = ledger.variant;
  const stream = String(ledger.stream);
  const totalMs = ledger.endedMs ?? ledger.elapsedMs();
  const answered = ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
  const outcome = ledger.errorClass === 'none' ? 'success' : 'error';

  // Spend is real money whoever forced the variant: always counted, per attempt.
  for (const a of ledger.attempts) {
    const model = a.model.name;
    if (a.usage) metrics.addUsage(route, variant, model, a.usage);
    if (a.costUsd !== undefined) metrics.hot.cost.get(route, variant, model).inc(a.costUsd);
    else if (a.outcome === 'success' || a.usage || a.billingUnknown) metrics.hot.costUnknown.get(route, variant, model).inc();
  }

  if (ledger.forced) {
    // Forced requests (evals, debugging) would bias the comparison: kept out of the rollout series.
    metrics.forcedRequests.inc({ route, variant, model: answered, outcome });
  } else {
    for (const a of ledger.attempts) {
      metrics.hot.upstreamRequests.get(route, variant, a.model.name, a.provider, a.kind, a.outcome, a.errorClass).inc();
      metrics.hot.upstreamDuration.get(route, variant, a.model.name, a.provider, a.outcome).observe(a.durationMs / 1000);
    }
    metrics.hot.requests.get(route, variant, answered, stream, outcome, ledger.errorClass).inc();
    metrics.hot.requestDuration.get(route, variant, answered, stream, outcome).observe(totalMs / 1000);
    if (ledger.ttftMs !== undefined) {
      metrics.hot.ttft.get(route, variant, answered).observe(ledger.ttftMs / 1000);
      const output = ledger.usage?.output ?? 0;
      if (output > 1 && outcome === 'success') {
        metrics.hot.timePerOutputToken.get(route, variant, answered).observe((totalMs - ledger.ttftMs) / 1000 / (output - 1));
      }
    }
    if (ledger.fallbackReason !== undefined && ledger.answeredBy) {
      const assigned = ledger.attempts.find((a) => a.kind !== 'fallback')?.model.name;
      const from = assigned ?? (variant === 'challenger' ? (ledger.route.challenger ?? answered) : answered);
      metrics.fallbacks.inc({ route, variant, from_model: from, to_model: ledger.answeredBy.name, reason: ledger.fallbackReason });
    }
  }
  if (ledger.attempts.length > 0) {
    metrics.hot.overhead.get(route, stream).observe(ledger.overheadMs(totalMs) / 1000);
  }

  ledger.span?.end({ statusCode: ledger.status, outcome, errorClass: ledger.errorClass, attempts: ledger.attempts.length, answeredBy: answered });

  const cost = ledger.costUsd;
  // computed | estimated (a stream stopped before usage was reported) | partial | unknown | none (nothing billed)
  const estimated = ledger.attempts.some((a) => a.usageEstimated && a.costUsd !== undefined);
  const costProvenance = ledger.costIncomplete ? (cost === undefined ? 'unknown' : 'partial') : cost === undefined ? 'none' : estimated ? 'estimated' : 'computed';
  const level = costProvenance === 'unknown' || costProvenance === 'partial' ? 'warn' : 'info';
  // The wide line is the costliest part of accounting: don't build it for a level that is off.
  if (!logger.isLevelEnabled(level)) return;
  const members = wideLineMembers(ledger, { model: answered, outcome, totalMs, costUsd: cost, costProvenance });
  writeMembers(logger, level, members, level === 'warn' ? 'request completed; cost unknown (no usage reported or model not priced)' : 'request completed');
}
