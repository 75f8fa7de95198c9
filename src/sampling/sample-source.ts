// What the request thread hands to the sampling worker: plain, cloneable data about one finished
// request. The expensive parts — parsing the request again, redaction, hashing, writing — happen there.
import type { RequestLedger, ResponseSummary } from '../gateway/ledger.js';
import type { Operation } from '../providers/types.js';
import type { Usage } from '../accounting/usage.js';
import type { ErrorClass } from '../gateway/errors.js';

export interface SampleSource {
  route: string;
  requestId: string;
  variant: 'champion' | 'challenger' | 'shadow';
  model: string;
  operation: Operation;
  request: Record<string, unknown>;
  /** The client's body as received: handed over instead of `request`, parsed again in the worker. */
  requestBytes?: Uint8Array;
  /**
   * What the answer said; none for a request that failed before any. Built on the request thread,
   * where the answer is already parsed: that costs less than handing the whole answer over and
   * parsing it again in the worker (which took ~5 µs of the worker's ~30 per sample).
   */
  response?: ResponseSummary;
  usage?: Usage;
  latencyS: number;
  ttftS: number | null;
  costUsd: number | null;
  errorClass: ErrorClass;
  errorMessage?: string;
  samplingRate: number;
  tags: string[];
}

export function sourceFromLedger(ledger: RequestLedger, samplingRate: number, tags: string[]): SampleSource {
  // Optional fields assigned one by one: conditional spreads in the literal copied each through V8's
  // slow path, on the request thread for every sample.
  const source: SampleSource = {
    route: ledger.route.name,
    requestId: ledger.requestId,
    variant: ledger.variant,
    model: answeringModel(ledger),
    operation: ledger.operation,
    request: ledger.request,
    latencyS: (ledger.endedMs ?? ledger.elapsedMs()) / 1000,
    ttftS: ledger.ttftMs === undefined ? null : ledger.ttftMs / 1000,
    costUsd: ledger.costUsd ?? null,
    errorClass: ledger.errorClass,
    samplingRate,
    tags,
  };
  if (ledger.requestBytes) source.requestBytes = ledger.requestBytes;
  const response = ledger.response;
  if (response) source.response = response;
  if (ledger.usage) source.usage = ledger.usage;
  if (ledger.errorMessage !== undefined) source.errorMessage = ledger.errorMessage;
  return source;
}

/** The model a request is attributed to: the one that answered, else the last one tried, else the champion. */
export function answeringModel(ledger: RequestLedger): string {
  return ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
}
