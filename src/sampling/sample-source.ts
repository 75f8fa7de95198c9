// What the request thread hands to the sampling worker: plain, cloneable data about one finished
// request. The expensive parts — parsing the request again, redaction, hashing, writing — happen there.
import type { RequestLedger, ResponseSummary } from '../gateway/ledger.js';
import type { Operation } from '../providers/types.js';
import type { Usage } from '../accounting/usage.js';
import type { ErrorClass } from '../gateway/errors.js';
import { summariseAnswer } from '../gateway/summary.js';
import { parseObject } from '../providers/json-object.js';

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
   * What the answer said; none for a request that failed before any. A JSON answer whose summary
   * nothing on the request thread needed travels as `answerJson` instead, and the worker builds it.
   */
  response?: ResponseSummary;
  /**
   * The JSON answer as the client got it, when its summary was not built yet: parsing it there
   * cost the request thread ~3 µs per request in place (a 700-byte chat completion); in the
   * worker the answers of a hand-over part are parsed together, once the first is needed.
   */
  answerJson?: Uint8Array;
  /**
   * Worker only: builds the summary from its batch's answers when first asked (`responseOf`), so the
   * answers of a part whose samples are all repeats (skipped before any record is built) are never parsed.
   */
  readResponse?: () => ResponseSummary | undefined;
  usage?: Usage;
  latencyS: number;
  ttftS: number | null;
  costUsd: number | null;
  errorClass: ErrorClass;
  errorMessage?: string;
  samplingRate: number;
  tags: string[];
}

const utf8 = new TextDecoder();
const utf8Bytes = new TextEncoder();

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
  const answer = ledger.unsummarisedAnswer;
  if (answer !== undefined) source.answerJson = typeof answer === 'string' ? utf8Bytes.encode(answer) : answer;
  else {
    const response = ledger.response;
    if (response) source.response = response;
  }
  if (ledger.usage) source.usage = ledger.usage;
  if (ledger.errorMessage !== undefined) source.errorMessage = ledger.errorMessage;
  return source;
}

/** The client's parsed body: as handed over, or parsed from its bytes (already done for the worker's sources). */
export function requestOf(source: SampleSource): Record<string, unknown> {
  if (source.request !== undefined) return source.request;
  return source.requestBytes ? (JSON.parse(utf8.decode(source.requestBytes)) as Record<string, unknown>) : {};
}

/** What the answer said: as handed over, or read from its JSON (for the worker's decoded sources, from their batch's). */
export function responseOf(source: SampleSource): ResponseSummary | undefined {
  if (source.response !== undefined) return source.response;
  if (source.readResponse !== undefined) return source.readResponse();
  return source.answerJson === undefined ? undefined : summaryOfAnswer(source.operation, parseObject(utf8.decode(source.answerJson)));
}

/** No summary for an answer that is not a JSON object: the record says so with a null content and finish reason. */
export function summaryOfAnswer(operation: Operation, json: Record<string, unknown> | undefined): ResponseSummary | undefined {
  return json === undefined ? undefined : summariseAnswer(operation, json);
}

/** The model a request is attributed to: the one that answered, else the last one tried, else the champion. */
export function answeringModel(ledger: RequestLedger): string {
  return ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
}
