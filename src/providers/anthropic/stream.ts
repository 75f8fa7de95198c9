// Anthropic SSE events → OpenAI `chat.completion.chunk`s, in the same sequence OpenAI sends them:
// a role chunk, content deltas, tool-call deltas (index/id/name first, then argument fragments), a
// finish chunk, and — when usage was asked for — a usage chunk with empty `choices`.
import { fromAnthropicUsage, type Usage } from '../../accounting/usage.js';
import type { ChatChunk, ChatChunkToolCall } from '../chat-wire.js';
import { chatCompletionId, chatUsage, finishReason } from './response.js';
import type { AnthropicStreamEvent, AnthropicUsage } from './wire.js';

export interface TranslatedChunk {
  chunk: ChatChunk;
  /** Billed usage so far (cumulative): set from message_start on, so a cancelled stream is still priced. */
  usage?: Usage;
}

export class AnthropicStreamTranslator {
  private id = 'chatcmpl-unknown';
  private model = '';
  private readonly created = Math.floor(Date.now() / 1000);
  private usageWire: AnthropicUsage = {};
  /** Anthropic content-block index → OpenAI tool_calls index (tool calls are numbered on their own). */
  private readonly toolIndex = new Map<number, number>();
  /** Set once message_stop arrived: the answer is complete. */
  done = false;

  constructor(private readonly includeUsage: boolean) {}

  /** Throws nothing: `error` events are handled by the caller, which owns error classification. */
  translate(event: AnthropicStreamEvent): TranslatedChunk[] {
    switch (event.type) {
      case 'message_start':
        this.id = chatCompletionId(event.message.id);
        this.model = event.message.model;
        this.usageWire = { ...event.message.usage };
        return [this.withUsage(this.chunk({ role: 'assistant', content: '', refusal: null }))];
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'tool_use') {
          const index = this.toolIndex.size;
          this.toolIndex.set(event.index, index);
          return [{ chunk: this.chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] }) }];
        }
        if (block.type === 'text' && block.text.length > 0) return [{ chunk: this.chunk({ content: block.text }) }];
        return [];
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta.type === 'text_delta') return delta.text.length > 0 ? [{ chunk: this.chunk({ content: delta.text }) }] : [];
        if (delta.type === 'input_json_delta') {
          const index = this.toolIndex.get(event.index);
          if (index === undefined || delta.partial_json.length === 0) return [];
          const call: ChatChunkToolCall = { index, function: { arguments: delta.partial_json } };
          return [{ chunk: this.chunk({ tool_calls: [call] }) }];
        }
        return []; // thinking and signature deltas have no chat-completions equivalent
      }
      case 'message_delta':
        // message_delta usage is cumulative; newer API versions repeat the input counts there too.
        this.usageWire = { ...this.usageWire, ...definedOnly(event.usage) };
        return [this.withUsage(this.chunk({}, finishReason(event.delta.stop_reason) ?? 'stop'))];
      case 'message_stop': {
        this.done = true;
        const usage = this.usage();
        if (!this.includeUsage || !usage) return [];
        return [{ chunk: { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: chatUsage(usage) }, usage }];
      }
      default:
        return []; // ping, content_block_stop, error (handled by the caller)
    }
  }

  usage(): Usage | undefined {
    return fromAnthropicUsage(this.usageWire);
  }

  private withUsage(chunk: ChatChunk): TranslatedChunk {
    const usage = this.usage();
    return usage ? { chunk, usage } : { chunk };
  }

  private chunk(delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }
}

function definedOnly(u: AnthropicUsage): AnthropicUsage {
  const out: AnthropicUsage = {};
  for (const [k, v] of Object.entries(u) as [keyof AnthropicUsage, number | null | undefined][]) {
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
