// Writing the upstream's answer to the client: JSON as-is, SSE event by event as it arrives (no
// buffering), stripping the usage chunk the gateway asked for when the client didn't, measuring time to
// first token and assembling the final text for checks and samples. Nothing here retries: once a byte
// reached the client, a failure is reported in-band and the stream is closed.
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { costUsd } from '../accounting/cost.js';
import { estimateUsage, type Usage } from '../accounting/usage.js';
import { GatewayError, asGatewayError, type OpenAIErrorBody } from './errors.js';
import { endAttemptSpan, saysNothingAboutHealth, timeoutError, type UpstreamAnswer } from './attempts.js';
import type { RequestLedger, ResponseSummary } from './ledger.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { StreamEvent } from '../providers/types.js';
import type { Cancellation } from '../providers/cancellation.js';
import { finishReasonOf, type ResponsesObject } from './responses.js';
import { carriesOutput, deltaHasOutput, hasSideOutput, type ChunkChoice } from './first-token.js';


/** Follows one stream's wire format: what the answer says, whether it is complete, what to drop. */
interface StreamTracker {
  readonly summary: ResponseSummary;
  /** The answer ended properly ([DONE], a finish reason, response.completed). */
  readonly complete: boolean;
  /** The upstream sent its last event ([DONE], response.completed): nothing after it is relayed. */
  readonly ended: boolean;
  /** Output deltas seen so far (content, tool calls, reasoning, refusal): the estimate when usage is missing. */
  readonly deltas: number;
  /** Returns false for events that must not reach the client. */
  observe(event: StreamEvent): boolean;
  /** The in-band error event that ends this stream when it fails after the first byte. */
  errorEvent(body: OpenAIErrorBody): string;
}

/** Deferred chunks read at a time: bounds what a long stream holds unread (~250 bytes each). */
const UNREAD_BATCH = 32;

class ChatTracker implements StreamTracker {
  private readonly tracked: ResponseSummary = { content: '', toolCalls: [], finishReason: null };
  private outputDeltas = 0;
  private sawDone = false;
  /**
   * Chunks relayed but not read yet (StreamEvent.deferred): nothing in them decides whether or how
   * they are relayed, so they are parsed and read later — UNREAD_BATCH at a time, before the next
   * chunk that is read at once, and when something asks for the answer (the ledger's summary is lazy).
   */
  private readonly unread: StreamEvent[] = [];

  constructor(private readonly clientAskedUsage: boolean) {}

  get summary(): ResponseSummary {
    this.catchUp();
    return this.tracked;
  }

  get deltas(): number {
    this.catchUp();
    return this.outputDeltas;
  }

  get complete(): boolean {
    if (this.sawDone) return true;
    this.catchUp();
    return this.tracked.finishReason !== null;
  }

  get ended(): boolean {
    return this.sawDone;
  }

  observe(event: StreamEvent): boolean {
    if (event.data === '[DONE]') {
      this.sawDone = true;
      return true;
    }
    if (event.deferred) {
      if (this.unread.push(event) >= UNREAD_BATCH) this.catchUp();
      return true;
    }
    this.catchUp();
    const json = event.json;
    // The trailing usage chunk (empty choices) exists only because we asked for it.
    if (!this.clientAskedUsage && json && Array.isArray(json.choices) && json.choices.length === 0 && json.usage) return false;
    this.read(json);
    return true;
  }

  errorEvent(body: OpenAIErrorBody): string {
    return `data: ${JSON.stringify(body)}\n\n`;
  }

  private catchUp(): void {
    if (this.unread.length === 0) return;
    for (const event of this.unread) this.read(event.json);
    this.unread.length = 0;
  }

  private read(json: Record<string, unknown> | undefined): void {
    const choices = json?.choices as ChunkChoice[] | undefined;
    if (!Array.isArray(choices)) return;
    for (const choice of choices) {
      // With n > 1 the completions interleave (a chunk per index): the summary — what checks and
      // samples read — is completion 0, as for a JSON answer; output of any of them is the first token.
      if ((choice.index ?? 0) === 0) this.track(choice);
      else if (deltaHasOutput(choice.delta)) this.outputDeltas++;
    }
  }

  private track(choice: ChunkChoice): void {
    const delta = choice.delta;
    const summary = this.tracked;
    if (typeof delta?.content === 'string' && delta.content.length > 0) {
      summary.content += delta.content;
      this.outputDeltas++;
    }
    if (hasSideOutput(delta)) this.outputDeltas++;
    for (const call of delta?.tool_calls ?? []) {
      this.outputDeltas++;
      const slot = (summary.toolCalls[call.index ?? 0] ??= { name: '', arguments: '' });
      if (call.id) slot.id = call.id;
      if (call.function?.name) slot.name += call.function.name;
      if (call.function?.arguments) slot.arguments += call.function.arguments;
    }
    if (choice.finish_reason) summary.finishReason = choice.finish_reason;
  }
}

class ResponsesTracker implements StreamTracker {
  readonly summary: ResponseSummary = { content: '', toolCalls: [], finishReason: null };
  deltas = 0;
  complete = false;

  get ended(): boolean {
    return this.complete;
  }

  /** output_index → tool call slot. */
  private readonly calls = new Map<number, ResponseSummary['toolCalls'][number]>();
  /** Every Responses event carries the next sequence_number, the gateway's own error event too. */
  private nextSequence = 0;

  /** A Responses-API `error` event (ResponseErrorEvent), numbered after the events already relayed. */
  errorEvent(body: OpenAIErrorBody): string {
    const event = { type: 'error', sequence_number: this.nextSequence, code: body.error.code, message: body.error.message, param: null };
    return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
  }

  observe(event: StreamEvent): boolean {
    const json = event.json as { type?: string; sequence_number?: unknown; delta?: unknown; output_index?: number; item?: { type?: string; call_id?: string; name?: string }; response?: Partial<ResponsesObject> } | undefined;
    if (typeof json?.sequence_number === 'number') this.nextSequence = json.sequence_number + 1;
    switch (json?.type) {
      case 'response.output_text.delta':
        if (typeof json.delta === 'string' && json.delta.length > 0) {
          this.summary.content += json.delta;
          this.deltas++;
        }
        break;
      case 'response.refusal.delta':
      case 'response.reasoning_text.delta':
      case 'response.reasoning_summary_text.delta':
        if (typeof json.delta === 'string' && json.delta.length > 0) this.deltas++;
        break;
      case 'response.output_item.added':
        if (json.item?.type === 'function_call') {
          const slot = { ...(json.item.call_id ? { id: json.item.call_id } : {}), name: json.item.name ?? '', arguments: '' };
          this.calls.set(json.output_index ?? this.calls.size, slot);
          this.summary.toolCalls.push(slot);
          this.deltas++;
        }
        break;
      case 'response.function_call_arguments.delta': {
        const slot = this.calls.get(json.output_index ?? -1);
        if (slot && typeof json.delta === 'string') slot.arguments += json.delta;
        this.deltas++;
        break;
      }
      case 'response.completed':
      case 'response.incomplete':
        this.complete = true;
        this.summary.finishReason = finishReasonOf(json.response ?? {});
        break;
    }
    return true;
  }
}

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

  const handle = async (event: StreamEvent): Promise<void> => {
    // Usage on events is cumulative (the latest report wins): Anthropic reports input at the start.
    if (event.usage) usage = event.usage;
    if (!tracker.observe(event)) return;
    await write(res, sseEvent(event), cancel, ledger);
    if (firstToken && carriesOutput(event)) {
      ledger.ttftMs ??= ledger.elapsedMs();
      clearTimeout(firstToken);
      firstToken = undefined;
    }
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
      await handle(next.value);
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
 * Respects backpressure: a slow client slows the relay instead of growing the heap. The wait for it
 * ends with the attempt (total timeout, shutdown), so a client that stops reading cannot hold the
 * request open forever.
 */
async function write(res: ServerResponse, text: string, cancel: Cancellation, ledger: RequestLedger): Promise<void> {
  if (res.destroyed) throw new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client disconnected', cause: 'client_closed' });
  if (!res.write(text)) {
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
    if (res.destroyed) throw new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client disconnected', cause: 'client_closed' });
  }
}
