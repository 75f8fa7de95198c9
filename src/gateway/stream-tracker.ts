// Following one SSE answer's wire format as it is relayed: what the answer says (the summary checks,
// samples and traces read), whether it ended properly, and which events the client must not see (the
// usage chunk the gateway asked for on the client's behalf).
import type { OpenAIErrorBody } from './errors.js';
import type { ResponseSummary } from './ledger.js';
import type { StreamEvent } from '../providers/types.js';
import { finishReasonOf, type ResponsesObject } from './responses.js';
import { deltaHasOutput, hasSideOutput, type ChunkChoice } from './first-token.js';

/** Follows one stream's wire format: what the answer says, whether it is complete, what to drop. */
export interface StreamTracker {
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

/** Chunks read at a time: bounds what a long stream holds unread (~250 bytes each). */
const UNREAD_BATCH = 32;

export class ChatTracker implements StreamTracker {
  private readonly tracked: ResponseSummary = { content: '', toolCalls: [], finishReason: null };
  private outputDeltas = 0;
  private sawDone = false;
  /**
   * Chunks relayed but not read yet, in order. Nothing in a chunk's choices decides whether or how it
   * is relayed, so they are read later: UNREAD_BATCH at a time, and when something asks for the answer
   * (the ledger's summary is lazy). Deferred chunks (StreamEvent.deferred) are parsed only then: on a
   * route without checks, samples or traces a short answer is never parsed, a long one in batches
   * (its summary is far smaller than its chunks). Chunks parsed on arrival (a usage report) wait in
   * line too: reading one at once would mean reading every chunk before it first — the trailing usage
   * chunk the gateway asks for made every stream parse all of its chunks that way.
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
    if (!event.deferred && !this.clientAskedUsage) {
      // The trailing usage chunk (empty choices) exists only because we asked for it.
      const json = event.json;
      if (json && Array.isArray(json.choices) && json.choices.length === 0 && json.usage) return false;
    }
    if (this.unread.push(event) >= UNREAD_BATCH) this.catchUp();
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

export class ResponsesTracker implements StreamTracker {
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
