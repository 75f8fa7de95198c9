// OpenAI chat-completions request → Anthropic Messages request. Anthropic differs in ways that matter:
// the system prompt is a top-level field, tool results are user-turn blocks, tool arguments are
// objects rather than JSON strings, images are typed sources, and max_tokens is required.
import { badRequest } from '../../gateway/errors.js';
import { parseObject } from '../json-object.js';
import type { ChatContentPart, ChatMessage, ChatRequest, ChatTool, ChatToolChoice } from '../chat-wire.js';
import type {
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicRequestBlock,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
} from './wire.js';

/** Used when the client sets no limit: Anthropic requires one, OpenAI does not. */
export const DEFAULT_MAX_TOKENS = 4096;

export function toAnthropicRequest(body: Record<string, unknown>, defaultMaxTokens = DEFAULT_MAX_TOKENS): AnthropicRequest {
  const req = body as unknown as ChatRequest;
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw badRequest('messages must be a non-empty array.', 'invalid_messages', 'messages');
  // Anthropic answers with one message: n > 1 would silently return one choice where the client
  // counts on several.
  if (typeof req.n === 'number' && req.n !== 1) throw badRequest(`n: this model returns one choice per request; n=${req.n} is not supported.`, 'unsupported_parameter', 'n');

  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  for (const [i, m] of req.messages.entries()) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(textOnly(m.content, i));
      continue;
    }
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = m.role === 'assistant' ? assistantBlocks(m, i) : m.role === 'tool' ? [toolResult(m, i)] : userBlocks(m.content, i);
    if (blocks.length === 0) continue;
    // Anthropic wants alternating turns; several OpenAI tool messages in a row are ONE user turn.
    const last = messages[messages.length - 1];
    if (last && last.role === role) (last.content as AnthropicRequestBlock[]).push(...blocks);
    else messages.push({ role, content: blocks });
  }

  const format = jsonInstruction(req.response_format);
  if (format) system.push(format);

  const out: AnthropicRequest = {
    model: req.model,
    messages,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? defaultMaxTokens,
  };
  if (system.length > 0) out.system = system.join('\n\n');
  const stop = typeof req.stop === 'string' ? [req.stop] : Array.isArray(req.stop) ? req.stop : [];
  if (stop.length > 0) out.stop_sequences = stop;
  // OpenAI's range is 0–2, Anthropic's 0–1: clamp rather than reject a request that worked before.
  if (typeof req.temperature === 'number') out.temperature = Math.min(1, Math.max(0, req.temperature));
  // Current Claude models reject a request that sets both ("temperature and top_p cannot both be
  // specified for this model"), which OpenAI accepts: temperature wins, top_p is dropped.
  else if (typeof req.top_p === 'number') out.top_p = req.top_p;
  if (req.stream === true) out.stream = true;
  if (typeof req.user === 'string') out.metadata = { user_id: req.user };
  if (Array.isArray(req.tools) && req.tools.length > 0) {
    out.tools = req.tools.map(toTool);
    const choice = toToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  return out;
}

function textOnly(content: ChatMessage['content'], i: number): string {
  if (typeof content === 'string') return content;
  if (content == null) return '';
  return content
    .map((p) => {
      if (p.type === 'text' && typeof p.text === 'string') return p.text;
      throw badRequest(`messages[${i}]: only text content is supported here.`, 'invalid_content', `messages[${i}].content`);
    })
    .join('');
}

function userBlocks(content: ChatMessage['content'], i: number): AnthropicRequestBlock[] {
  if (typeof content === 'string') return content.length > 0 ? [{ type: 'text', text: content }] : [];
  if (content == null) return [];
  return content.map((part) => contentBlock(part, i));
}

function contentBlock(part: ChatContentPart, i: number): AnthropicTextBlock | AnthropicImageBlock {
  if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
  if (part.type === 'image_url') {
    const url = (part as { image_url?: { url?: unknown } }).image_url?.url;
    if (typeof url === 'string') return imageBlock(url, i);
  }
  throw badRequest(`messages[${i}]: content part type "${part.type}" is not supported by this model.`, 'unsupported_content', `messages[${i}].content`);
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string, i: number): AnthropicImageBlock {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1] as string, data: data[2] as string } };
  if (/^https?:\/\//.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw badRequest(`messages[${i}]: image_url must be an http(s) URL or a base64 data URL.`, 'invalid_image_url', `messages[${i}].content`);
}

function assistantBlocks(m: ChatMessage, i: number): AnthropicRequestBlock[] {
  const blocks: AnthropicRequestBlock[] = [];
  const text = textOnly(m.content, i);
  if (text.length > 0) blocks.push({ type: 'text', text });
  for (const call of m.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments, i) });
  }
  return blocks;
}

function parseArguments(args: string, i: number): Record<string, unknown> {
  if (args.trim() === '') return {};
  const parsed = parseObject(args);
  if (parsed) return parsed;
  throw badRequest(`messages[${i}].tool_calls: arguments must be a JSON object.`, 'invalid_tool_arguments', `messages[${i}].tool_calls`);
}

function toolResult(m: ChatMessage, i: number): AnthropicToolResultBlock {
  if (typeof m.tool_call_id !== 'string') throw badRequest(`messages[${i}]: tool messages need tool_call_id.`, 'missing_tool_call_id', `messages[${i}].tool_call_id`);
  const content = typeof m.content === 'string' || m.content == null ? (m.content ?? '') : m.content.map((p) => contentBlock(p, i));
  return { type: 'tool_result', tool_use_id: m.tool_call_id, content };
}

function toTool(tool: ChatTool): AnthropicTool {
  return {
    name: tool.function.name,
    ...(tool.function.description ? { description: tool.function.description } : {}),
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
  };
}

function toToolChoice(choice: ChatToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...single } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...single };
  if (choice === 'required') return { type: 'any', ...single };
  return { type: 'tool', name: choice.function.name, ...single };
}

/** Anthropic has no response_format; the closest faithful equivalent is an explicit instruction. */
function jsonInstruction(format: ChatRequest['response_format']): string | undefined {
  if (!format || format.type === 'text') return undefined;
  const schema = (format.json_schema as { schema?: unknown } | undefined)?.schema;
  return schema
    ? `Respond with a single JSON object that conforms to this JSON Schema, and nothing else:\n${JSON.stringify(schema)}`
    : 'Respond with a single JSON object, and nothing else.';
}
