// Anthropic Messages response → OpenAI chat completion: text blocks become `content`, tool_use blocks
// become `tool_calls` (input object → arguments string), stop_reason → finish_reason, and usage is
// reported the OpenAI way (prompt tokens INCLUDE cached ones) so clients' own accounting stays right.
import { fromAnthropicUsage, type Usage } from '../../accounting/usage.js';
import type { ChatCompletion, ChatToolCall, ChatUsageWire, FinishReason } from '../chat-wire.js';
import type { AnthropicResponse, AnthropicStopReason } from './wire.js';

/**
 * Anthropic's stop_reason as the closest OpenAI finish_reason (docs.anthropic.com "Handling stop
 * reasons"). OpenAI has no "paused": `pause_turn` (a server-tool loop paused mid-turn; the client
 * must send the conversation back to continue) is `length`, the only finish_reason that says the
 * answer is not finished — `stop` would tell the client it was. `model_context_window_exceeded`
 * (generation hit the context window, not max_tokens) is a truncation too.
 */
export function finishReason(stop: AnthropicStopReason | null | undefined): FinishReason | null {
  switch (stop) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
    case 'pause_turn':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return null;
  }
}

export function chatUsage(u: Usage): ChatUsageWire {
  const prompt = u.input + u.cachedInput + u.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cachedInput, ...(u.cacheWrite > 0 ? { cache_write_tokens: u.cacheWrite } : {}) },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
  };
}

export function chatCompletionId(messageId: string): string {
  return `chatcmpl-${messageId}`;
}

export function toChatCompletion(msg: AnthropicResponse): { json: ChatCompletion; usage: Usage | undefined } {
  let text = '';
  const calls: ChatToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'tool_use') calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
  }
  const usage = fromAnthropicUsage(msg.usage);
  const json: ChatCompletion = {
    id: chatCompletionId(msg.id),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: msg.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: calls.length > 0 && text === '' ? null : text, refusal: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
        logprobs: null,
        finish_reason: finishReason(msg.stop_reason),
      },
    ],
    ...(usage ? { usage: chatUsage(usage) } : {}),
  };
  return { json, usage };
}
