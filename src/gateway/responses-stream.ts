// Chat-completion chunks → Responses-API stream events, in the order the real API emits them:
// response.created, response.in_progress, then per output item output_item.added → (content_part.added
// → output_text.delta… → output_text.done → content_part.done | function_call_arguments.delta… →
// function_call_arguments.done) → output_item.done, and finally response.completed (or .incomplete)
// carrying the full response and its usage.
import type { Usage } from '../accounting/usage.js';
import type { ChatChunk, FinishReason } from '../providers/chat-wire.js';
import type { StreamEvent } from '../providers/types.js';
import { finish, newId, responseShell, type ResponsesObject, type ResponsesOutputItem } from './responses.js';

type OpenItem =
  | { kind: 'message'; outputIndex: number; item: Extract<ResponsesOutputItem, { type: 'message' }>; text: string }
  | { kind: 'call'; outputIndex: number; item: Extract<ResponsesOutputItem, { type: 'function_call' }> };

export class ChatToResponsesStream {
  private readonly response: ResponsesObject;
  private sequence = 0;
  private started = false;
  private message: Extract<OpenItem, { kind: 'message' }> | undefined;
  /** Chat tool_call index → its function_call item (open until the next item starts). */
  private readonly calls = new Map<number, Extract<OpenItem, { kind: 'call' }>>();
  /** The function_call item still streaming: the Responses API has one item open at a time. */
  private openCall: Extract<OpenItem, { kind: 'call' }> | undefined;
  private finishReason: FinishReason | null = null;
  private usage: Usage | undefined;
  private pendingUsage = false;

  constructor(request: Record<string, unknown>) {
    this.response = responseShell(request, String(request.model ?? ''));
  }

  /** Translates one upstream chat event; `[DONE]` completes the response. */
  translate(event: StreamEvent): StreamEvent[] {
    if (event.usage) {
      this.usage = event.usage;
      this.pendingUsage = true;
    }
    const out: StreamEvent[] = [];
    if (event.data === '[DONE]') {
      this.closeAll(out);
      finish(this.response, this.finishReason, this.usage);
      this.emit(out, this.response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: this.response });
      return this.attachUsage(out);
    }
    const chunk = event.json as unknown as ChatChunk | undefined;
    if (!chunk) return out;
    if (!this.started) {
      this.started = true;
      if (chunk.model) this.response.model = chunk.model;
      this.emit(out, 'response.created', { response: { ...this.response } });
      this.emit(out, 'response.in_progress', { response: { ...this.response } });
    }
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    if (typeof delta?.content === 'string' && delta.content.length > 0) this.text(out, delta.content);
    for (const call of delta?.tool_calls ?? []) {
      let open = this.calls.get(call.index);
      if (!open) {
        this.closeMessage(out);
        this.closeCall(out);
        const item: Extract<ResponsesOutputItem, { type: 'function_call' }> = {
          type: 'function_call',
          id: newId('fc'),
          call_id: call.id ?? newId('call'),
          name: call.function?.name ?? '',
          arguments: '',
          status: 'in_progress',
        };
        open = { kind: 'call', outputIndex: this.response.output.length, item };
        this.response.output.push(item);
        this.calls.set(call.index, open);
        this.openCall = open;
        this.emit(out, 'response.output_item.added', { output_index: open.outputIndex, item: { ...item } });
      }
      const args = call.function?.arguments ?? '';
      if (args.length > 0) {
        open.item.arguments += args;
        // Arguments for a call already closed (a provider interleaving calls) still reach the final
        // response; a delta after its done event would contradict the stream.
        if (open === this.openCall) this.emit(out, 'response.function_call_arguments.delta', { item_id: open.item.id, output_index: open.outputIndex, delta: args });
      }
    }
    if (choice?.finish_reason) this.finishReason = choice.finish_reason;
    return this.attachUsage(out);
  }

  private text(out: StreamEvent[], text: string): void {
    if (!this.message) {
      this.closeCall(out);
      const item: Extract<ResponsesOutputItem, { type: 'message' }> = { type: 'message', id: newId('msg'), status: 'in_progress', role: 'assistant', content: [] };
      this.message = { kind: 'message', outputIndex: this.response.output.length, item, text: '' };
      this.response.output.push(item);
      this.emit(out, 'response.output_item.added', { output_index: this.message.outputIndex, item: { ...item, content: [] } });
      this.emit(out, 'response.content_part.added', { item_id: item.id, output_index: this.message.outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    }
    this.message.text += text;
    this.emit(out, 'response.output_text.delta', { item_id: this.message.item.id, output_index: this.message.outputIndex, content_index: 0, delta: text, logprobs: [] });
  }

  private closeMessage(out: StreamEvent[]): void {
    const m = this.message;
    if (!m) return;
    const part = { type: 'output_text' as const, text: m.text, annotations: [] };
    m.item.content = [part];
    m.item.status = 'completed';
    this.emit(out, 'response.output_text.done', { item_id: m.item.id, output_index: m.outputIndex, content_index: 0, text: m.text, logprobs: [] });
    this.emit(out, 'response.content_part.done', { item_id: m.item.id, output_index: m.outputIndex, content_index: 0, part });
    this.emit(out, 'response.output_item.done', { output_index: m.outputIndex, item: m.item });
    this.message = undefined;
  }

  private closeCall(out: StreamEvent[]): void {
    const open = this.openCall;
    if (!open) return;
    open.item.status = 'completed';
    this.emit(out, 'response.function_call_arguments.done', { item_id: open.item.id, output_index: open.outputIndex, name: open.item.name, arguments: open.item.arguments });
    this.emit(out, 'response.output_item.done', { output_index: open.outputIndex, item: open.item });
    this.openCall = undefined;
  }

  /** At most one item is open (the last one added), so closing both keeps output order. */
  private closeAll(out: StreamEvent[]): void {
    this.closeMessage(out);
    this.closeCall(out);
    this.calls.clear();
  }

  private emit(out: StreamEvent[], type: string, fields: Record<string, unknown>): void {
    const json = { type, sequence_number: this.sequence++, ...fields };
    out.push({ event: type, data: JSON.stringify(json), json });
  }

  /** Usage (cumulative) rides on the first event produced after it was reported. */
  private attachUsage(out: StreamEvent[]): StreamEvent[] {
    const first = out[0];
    if (this.pendingUsage && first && this.usage) {
      first.usage = this.usage;
      this.pendingUsage = false;
    }
    return out;
  }
}
