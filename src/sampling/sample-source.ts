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
  /**
   * The client's body, parsed. On the request thread only when there are no `requestBytes`: a
   * sample waits up to 100 ms for its batch, and the parsed body held that long survived young GCs
   * into the old generation — the request thread ran measurably slower for it (see sourceFromLedger).
   * The worker always has it: its batches arrive parsed (`decodeSamples`); elsewhere `requestOf`.
   */
  request?: Record<string, unknown>;
  /** The client's body as received: handed over instead of `request`, parsed again in the worker. */
  requestBytes?: Uint8Array;
  /**
   * What the answer said; none for a request that failed before any. Built on the request thread
   * (for a JSON answer that is its parse, ~3 µs in place for a 700-byte chat completion) rather
   * than handing the answer over: parsed in the worker it cost ~5 µs per sample there (3dcfdae,
   * reverted).
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
    latencyS: (ledger.endedMs ?? ledger.elapsedMs()) / 1000,
    ttftS: ledger.ttftMs === undefined ? null : ledger.ttftMs / 1000,
    costUsd: ledger.costUsd ?? null,
    errorClass: ledger.errorClass,
    samplingRate,
    tags,
  };
  // The bytes, or the parsed body when there are none — not both (see `request`): handing the bytes
  // over, the request thread ran 4–18 µs per request faster in paired runs.
  if (ledger.requestBytes) source.requestBytes = ledger.requestBytes;
  else source.request = ledger.request;
  const response = ledger.response;
  if (response) source.response = response;
  if (ledger.usage) source.usage = ledger.usage;
  if (ledger.errorMessage !== undefined) source.errorMessage = ledger.errorMessage;
  return source;
}

const utf8 = new TextDecoder();

/** The client's parsed body: as handed over, or parsed from its bytes (already done for the worker's sources). */
export function requestOf(source: SampleSource): Record<string, unknown> {
  if (source.request !== undefined) return source.request;
  return source.requestBytes ? (JSON.parse(utf8.decode(source.requestBytes)) as Record<string, unknown>) : {};
}

/** The model a request is attributed to: the one that answered, else the last one tried, else the champion. */
export function answeringModel(ledger: RequestLedger): string {
  return ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
}
