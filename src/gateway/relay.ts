// Writing the upstream's answer to the client: SSE event by event as it arrives (no buffering),
// without the events the stream tracker drops (stream-tracker.ts), measuring time to first token and
// recording what the answer cost. Nothing here retries: once a byte reached the client, a failure is
// reported in-band and the stream is closed.
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { costUsd } from '../accounting/cost.js';
import { estimateUsage, type Usage } from '../accounting/usage.js';
import { GatewayError, asGatewayError } from './errors.js';
import { endAttemptSpan, saysNothingAboutHealth, timeoutError, type UpstreamAnswer } from './attempts.js';
import type { RequestLedger, ResponseSummary } from './ledger.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { StreamEvent } from '../providers/types.js';
import type { Cancellation } from '../providers/cancellation.js';
import { carriesOutput } from './first-token.js';
import { ChatTracker, ResponsesTracker, type StreamTracker } from './stream-tracker.js';

/**
 * Relays an SSE answer. Headers go out with the held-back head, which ends at the first token (so a
 * failure before it could still be retried upstream of here). Returns when the stream ended, failed or the client went away.
 */
export async function relayStream(
  answer: Extract<UpstreamAnswer, { kind: 'stream' }>,
  ledger: RequestLedger,
  res: ServerResponse,
  headers: Record<string, string>,
  breakers: CircuitBreakers,
): Promise<void> {
  const { attempt, cancel } = answer;
  const idleMs = ledger.route.timeouts.idleMs;
  const tracker: StreamTracker = ledger.operation === 'responses' ? new ResponsesTracker() : new ChatTracker(ledger.clientAskedUsage);
  let usage: Usage | undefined;
  let firstToken: NodeJS.Timeout | undefined = answer.firstToken;
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });

  /** Relays one event; returns a promise only while the client is behind (see write). */
  const handle = (event: StreamEvent): Promise<void> | undefined => {
    // Usage on events is cumulative (the latest report wins): Anthropic reports input at the start.
    if (event.usage) usage = event.usage;
    if (!tracker.observe(event)) return undefined;
    const behind = write(res, sseEvent(event), cancel, ledger);
    // The first token is out when it is written: a client slow to read it is not a slow upstream.
    if (firstToken && carriesOutput(event)) {
      ledger.ttftMs ??= ledger.elapsedMs();
      clearTimeout(firstToken);
      firstToken = undefined;
    }
    return behind;
  };

  // One idle timer for the whole stream, never touched per event (re-arming it per event was 1 % of
  // the relay's CPU): when it fires it checks how long the current wait for the upstream has lasted
  // and sleeps for the rest. Only waits for the upstream count: a slow client is backpressure.
  let waitingSince: number | undefined;
  let idle = setTimeout(function expire() {
    const left = waitingSince === undefined ? idleMs : idleMs - (performance.now() - waitingSince);
    if (left <= 0) return void cancel.abort(timeoutError('idle', idleMs));
    idle = setTimeout(expire, left);
    idle.unref();
  }, idleMs);
  idle.unref();
  let upstreamEnded = false;
  try {
    const held = answer.held;
    if (Array.isArray(held)) for (const event of held) await handle(event);
    else if (held) await handle(held);
    await handle(answer.committed);
    while (!tracker.ended) {
      const waitStart = performance.now();
      waitingSince = waitStart;
      let next: IteratorResult<StreamEvent>;
      try {
        next = await answer.rest.next();
      } finally {
        waitingSince = undefined;
        ledger.upstreamWaitMs += performance.now() - waitStart;
      }
      if (next.done) {
        upstreamEnded = true;
        break;
      }
      const behind = handle(next.value);
      if (behind) await behind;
    }
    if (!tracker.complete && ledger.operation !== 'embeddings') {
      throw new GatewayError({ status: 502, errorClass: 'stream_interrupted', message: 'upstream stream ended before the answer was complete', type: 'api_error', code: 'stream_interrupted', cause: 'eof_without_finish' });
    }
    attempt.outcome = 'success';
    breakers.record(attempt.model.name, true);
  } catch (err) {
    const error = cancel.aborted && cancel.reason instanceof GatewayError ? cancel.reason : asGatewayError(err);
    attempt.outcome = 'error';
    attempt.errorClass = error.errorClass;
    // The attempt keeps the status the failure stands for (a 429 in-band); the request's status is
    // what the client got: the 200 already on the wire, with error_class and cause saying what went
    // wrong. A client that left keeps 499 (client closed request): it did not get the rest.
    attempt.status = error.status;
    if (error.cause_) attempt.cause = error.cause_;
    if (saysNothingAboutHealth(error)) breakers.release(attempt.model.name);
    else breakers.record(attempt.model.name, false);
    ledger.fail(error.errorClass, error.errorClass === 'client_cancelled' ? error.status : res.statusCode, error.message, error.cause_);
    // Stops the upstream request at once: no orphan stream generating tokens nobody reads.
    cancel.abort(error);
    if (res.writableNeedDrain) {
      // The client stopped reading (the failure is likely the total timeout that ended the wait): an
      // in-band error would never reach it, so the connection is closed instead.
      res.destroy();
    } else if (!res.destroyed && !res.writableEnded) {
      // Mid-stream failures are reported in-band, as OpenAI does, then the stream is closed.
      res.write(tracker.errorEvent(error.toBody()));
    }
    if (!usage) {
      // The upstream billed the prompt and whatever it generated, but never said how much.
      usage = estimateUsage(ledger.request, tracker.deltas);
      attempt.usageEstimated = true;
    }
  } finally {
    clearTimeout(idle);
    if (firstToken) clearTimeout(firstToken);
    attempt.durationMs = performance.now() - attempt.startedAt;
    attempt.usage = usage;
    attempt.costUsd = costUsd(usage, answer.pricing);
    ledger.usage = usage;
    // Read when something needs the answer (checks, samples): until then a chat stream's deferred
    // chunks stay unparsed, and without such a reader they never are.
    ledger.respondedWith(summaryOf(tracker));
    if (attempt.span) endAttemptSpan(attempt, answeredModel(answer), tracker.summary.finishReason);
    if (!res.destroyed && !res.writableEnded) res.end();
    if (tracker.ended && !upstreamEnded) void releaseUpstream(answer, idleMs);
  }
}

/**
 * The tracker's summary, read later. Made out here: a closure made inside relayStream would keep the
 * whole relay's scope (the response, its socket, the upstream exchange) alive with the ledger, which
 * outlives the request when it is held for late feedback.
 */
function summaryOf(tracker: StreamTracker): () => ResponseSummary {
  return () => tracker.summary;
}

/**
 * The model the upstream says answered (gen_ai.response.model), read from the stream's head: every
 * chat chunk carries it, a Responses stream in response.created. Only with tracing on.
 */
function answeredModel(answer: Extract<UpstreamAnswer, { kind: 'stream' }>): { model: string } | undefined {
  const head = answer.held === undefined ? [answer.committed] : [...(Array.isArray(answer.held) ? answer.held : [answer.held]), answer.committed];
  for (const event of head) {
    const model = event.json?.model ?? (event.json?.response as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string' && model !== '') return { model };
  }
  return undefined;
}

/**
 * The answer is complete but the upstream still holds its body open (a proxy that flushes late, a
 * server that ends the chunked body lazily). The client is done already; the upstream gets the idle
 * timeout to end its body on its own — so its keep-alive connection can be reused, the normal case,
 * where the end arrives a moment after [DONE] — and is stopped after that.
 */
async function releaseUpstream(answer: Extract<UpstreamAnswer, { kind: 'stream' }>, idleMs: number): Promise<void> {
  const stop = setTimeout(() => answer.cancel.abort(timeoutError('idle', idleMs)), idleMs);
  stop.unref();
  try {
    while (!(await answer.rest.next()).done) {
      // Anything after the last event is not part of the answer.
    }
  } catch {
    // Stopped, or failed after the answer was complete: nothing is left to relay or to record.
  } finally {
    clearTimeout(stop);
  }
}

/** One event on the wire; a multi-line payload keeps a `data:` field per line, as SSE requires. */
function sseEvent(event: StreamEvent): string {
  const data = event.data.includes('\n') ? event.data.replaceAll('\n', '\ndata: ') : event.data;
  return event.event ? `event: ${event.event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/**
 * Writes one event, respecting backpressure: a slow client slows the relay instead of growing the
 * heap. Returns the wait for the client to catch up, or nothing when it keeps up — the common case
 * costs the relay no promise and no await per event.
 */
function write(res: ServerResponse, text: string, cancel: Cancellation, ledger: RequestLedger): Promise<void> | undefined {
  if (res.destroyed) throw clientGone();
  return res.write(text) ? undefined : drained(res, cancel, ledger);
}

/**
 * The wait for a client that is behind. It ends with the attempt (total timeout, shutdown), so a
 * client that stops reading cannot hold the request open forever.
 */
async function drained(res: ServerResponse, cancel: Cancellation, ledger: RequestLedger): Promise<void> {
  // The client's pace, not the gateway's work: kept out of the overhead figures.
  const waitStart = performance.now();
  const ac = new AbortController();
  let stopListening = (): void => {};
  const ended = new Promise<void>((resolve) => (stopListening = cancel.onAbort(() => resolve())));
  await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal }), ended]).finally(() => {
    ac.abort();
    stopListening();
    ledger.clientWaitMs += performance.now() - waitStart;
  });
  if (cancel.aborted) throw cancel.reason;
  if (res.destroyed) throw clientGone();
}

function clientGone(): GatewayError {
  return new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client disconnected', cause: 'client_closed' });
}
