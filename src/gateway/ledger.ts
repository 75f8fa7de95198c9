// Everything that happened to one client request, filled in along the pipeline and turned into
// metrics, the wide log line and hook events in exactly one place (accounting/record.ts).
import { performance } from 'node:perf_hooks';
import type { ModelConfig, RouteConfig } from '../config/types.js';
import type { Usage } from '../accounting/usage.js';
import type { Variant, Attempt } from '../telemetry/metrics.js';
import type { ErrorClass } from './errors.js';
import type { Operation } from '../providers/types.js';
import type { RequestSpan, UpstreamSpan } from '../telemetry/tracing.js';

export interface AttemptRecord {
  model: ModelConfig;
  provider: string;
  kind: Attempt;
  startedAt: number;
  durationMs: number;
  outcome: 'success' | 'error';
  errorClass: ErrorClass;
  /** Which guard fired, for timeouts and interruptions (first_token, idle, total, connect...). */
  cause?: string;
  status?: number;
  usage?: Usage;
  /** The upstream never reported usage (stream cut or cancelled); `usage` is an estimate. */
  usageEstimated?: boolean;
  costUsd?: number;
  /**
   * The upstream may have billed this attempt (it was stopped or cut after the request went out) but
   * never reported usage: its cost is unknown — counted as such, never taken as 0.
   */
  billingUnknown?: boolean;
  span?: UpstreamSpan;
}

export interface ResponseSummary {
  content: string;
  toolCalls: { id?: string; name: string; arguments: string }[];
  finishReason: string | null;
}

export class RequestLedger {
  readonly startedAt = performance.now();
  readonly receivedAt = new Date();
  span: RequestSpan | undefined;
  attempts: AttemptRecord[] = [];
  answeredBy: ModelConfig | undefined;
  fallbackReason: string | undefined;
  /** ms after start when the first content/tool-call delta was written to the client. */
  ttftMs: number | undefined;
  endedMs: number | undefined;
  /**
   * Time spent waiting on upstreams (headers + body for JSON; awaiting events for streams; the backoff
   * before a retry). Total minus this is the gateway's own overhead.
   */
  upstreamWaitMs = 0;
  /** Time a stream waited for a slow client to take what was written (backpressure): not gateway work either. */
  clientWaitMs = 0;
  /** The gateway's own share of `totalMs`: everything but waiting for upstreams and for the client. */
  overheadMs(totalMs: number): number {
    return Math.max(0, totalMs - this.upstreamWaitMs - this.clientWaitMs);
  }
  status = 200;
  errorClass: ErrorClass = 'none';
  errorCause: string | undefined;
  errorMessage: string | undefined;
  /** Usage of the answer the client got (the cost of all attempts is summed separately). */
  usage: Usage | undefined;
  private summary: ResponseSummary | undefined;
  /** The client's JSON body as received, when the server kept it (sampling hands these bytes over as they are). */
  requestBytes: Buffer | undefined;
  private summarise: (() => ResponseSummary) | undefined;
  /** What `summarise` reads, as the client got it (see `unsummarisedAnswer`). */
  private answerJson: string | Buffer | undefined;
  clientAskedUsage = false;

  constructor(
    readonly requestId: string,
    readonly operation: Operation,
    readonly route: RouteConfig,
    readonly variant: Variant,
    readonly forced: boolean,
    readonly stream: boolean,
    readonly client: string,
    readonly request: Record<string, unknown>,
  ) {}

  /** What the client got (text, tool calls, finish reason), for checks, samples and traces. */
  get response(): ResponseSummary | undefined {
    if (this.summary === undefined && this.summarise !== undefined) {
      this.summary = this.summarise();
      this.summarise = undefined;
      this.answerJson = undefined;
    }
    return this.summary;
  }

  set response(summary: ResponseSummary | undefined) {
    this.summary = summary;
    this.summarise = undefined;
    this.answerJson = undefined;
  }

  /**
   * Defers building the summary until something reads it: most requests are neither checked nor
   * sampled. `answerJson`: the JSON answer the summary is built from, as sent to the client.
   */
  respondedWith(summarise: () => ResponseSummary, answerJson?: string | Buffer): void {
    this.summary = undefined;
    this.summarise = summarise;
    this.answerJson = answerJson;
  }

  /**
   * The JSON answer while nothing has read its summary: sampling hands these bytes to its worker,
   * which reads the summary there, instead of parsing the answer on this thread (~3 µs per request
   * in place for a short chat completion).
   */
  get unsummarisedAnswer(): string | Buffer | undefined {
    return this.summarise !== undefined ? this.answerJson : undefined;
  }

  get attemptCount(): number {
    return this.attempts.length;
  }

  get costUsd(): number | undefined {
    let total = 0;
    let known = false;
    for (const a of this.attempts) {
      if (a.costUsd !== undefined) {
        total += a.costUsd;
        known = true;
      }
    }
    return known ? total : undefined;
  }

  /** True when some attempt was billed but its cost can't be computed. */
  get costIncomplete(): boolean {
    return this.attempts.some((a) => a.costUsd === undefined && (a.outcome === 'success' || a.usage !== undefined || a.billingUnknown === true));
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  fail(errorClass: ErrorClass, status: number, message: string, cause?: string): void {
    this.errorClass = errorClass;
    this.status = status;
    this.errorMessage = message;
    this.errorCause = cause;
  }
}
