// What the request thread hands to the sampling worker: plain, cloneable data about one finished
// request. The expensive parts — parsing the answer, redaction, hashing, writing — happen there.
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
  /** The answer's summary when it was already built (streams, or checks ran)… */
  response?: ResponseSummary;
  /** …otherwise the raw JSON answer, summarised in the worker… */
  answerText?: string;
  /** …as text, or as the bytes the client got (handed over as they are; text again in the worker). */
  answerBytes?: Uint8Array;
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
  const built = ledger.responseUnlessBytes;
  const answer = built === undefined ? ledger.answer : undefined;
  return {
    route: ledger.route.name,
    requestId: ledger.requestId,
    variant: ledger.variant,
    model: answeringModel(ledger),
    operation: ledger.operation,
    request: ledger.request,
    ...(ledger.requestBytes ? { requestBytes: ledger.requestBytes } : {}),
    ...(built ? { response: built } : {}),
    ...(typeof answer === 'string' ? { answerText: answer } : answer ? { answerBytes: answer } : {}),
    ...(ledger.usage ? { usage: ledger.usage } : {}),
    latencyS: (ledger.endedMs ?? ledger.elapsedMs()) / 1000,
    ttftS: ledger.ttftMs === undefined ? null : ledger.ttftMs / 1000,
    costUsd: ledger.costUsd ?? null,
    errorClass: ledger.errorClass,
    ...(ledger.errorMessage !== undefined ? { errorMessage: ledger.errorMessage } : {}),
    samplingRate,
    tags,
  };
}

/** The model a request is attributed to: the one that answered, else the last one tried, else the champion. */
export function answeringModel(ledger: RequestLedger): string {
  return ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
}
