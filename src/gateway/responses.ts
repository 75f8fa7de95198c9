// The OpenAI Responses API (`POST /v1/responses`) for providers that only speak chat completions
// (simulator, anthropic, openai-compatible servers): the request becomes a chat-completions request,
// and the answer becomes a Responses-API `response` object. Providers that speak it natively
// (openai, azure-openai) get the request as-is. Streams are translated in responses-stream.ts.
import { randomBytes } from 'node:crypto';
import type { Usage } from '../accounting/usage.js';
import type { ChatCompletion, ChatContentPart, ChatMessage, ChatRequest, ChatTool, ChatToolChoice, FinishReason } from '../providers/chat-wire.js';
import { badRequest } from './errors.js';
import type { ResponseSummary } from './ledger.js';

// --- wire types (the subset the translation reads and writes) -------------------------------------

export type ResponsesContentPart =
  | { type: 'input_text' | 'output_text'; text: string }
  | { type: 'input_image'; image_url?: string; detail?: string }
  | { type: string; [key: string]: unknown };

export type ResponsesInputItem =
  | { type?: 'message'; role: 'user' | 'assistant' | 'system' | 'developer'; content: string | ResponsesContentPart[] }
  | { type: 'function_call'; call_id: string; name: string; arguments: string; id?: string }
  | { type: 'function_call_output'; call_id: string; output: string | ResponsesContentPart[] }
  | { type: string; [key: string]: unknown };

export interface ResponsesTool {
  type: string;
  name?: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export interface ResponsesRequest {
  model: string;
  input?: string | ResponsesInputItem[];
  instructions?: string | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stream?: boolean | null;
  tools?: ResponsesTool[];
  tool_choice?:
    | 'none'
    | 'auto'
    | 'required'
    | { type: 'function'; name: string }
    | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: { type?: string; name?: string }[] }
    | { type: string; [key: string]: unknown };
  parallel_tool_calls?: boolean | null;
  user?: string;
  text?: {
    format?: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; name?: string; description?: string; schema?: Record<string, unknown>; strict?: boolean };
    verbosity?: string | null;
  };
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  service_tier?: string | null;
  prompt_cache_key?: string;
  safety_identifier?: string;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  background?: boolean | null;
  previous_response_id?: string | null;
  conversation?: unknown;
}

export interface ResponsesOutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
}

export type ResponsesOutputItem =
  | { type: 'message'; id: string; status: 'in_progress' | 'completed'; role: 'assistant'; content: ResponsesOutputText[] }
  | { type: 'function_call'; id: string; call_id: string; name: string; arguments: string; status: 'in_progress' | 'completed' };

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponsesObject {
  id: string;
  object: 'response';
  created_at: number;
  status: 'in_progress' | 'completed' | 'incomplete';
  error: null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: ResponsesOutputItem[];
  parallel_tool_calls: boolean;
  temperature: number | null;
  /** The request's format echoed whole (a json_schema keeps its name and schema), as the real API does. */
  text: { format: { type: string; [key: string]: unknown }; verbosity?: string };
  reasoning: { effort: string | null; summary: string | null };
  tool_choice: unknown;
  tools: ResponsesTool[];
  top_p: number | null;
  metadata: Record<string, string>;
  usage: ResponsesUsage | null;
  /** Always false here: a translated response is not stored anywhere it could be retrieved or continued from. */
  store: false;
  previous_response_id: null;
}

// --- request ---------------------------------------------------------------------------------------

export function responsesToChat(body: Record<string, unknown>): Record<string, unknown> {
  const req = body as unknown as ResponsesRequest;
  refuseServerState(req);
  const messages: ChatMessage[] = [];
  if (typeof req.instructions === 'string' && req.instructions.length > 0) messages.push({ role: 'system', content: req.instructions });
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input });
  else if (Array.isArray(req.input)) req.input.forEach((item, i) => addInputItem(messages, item, i));
  else throw badRequest('input must be a string or an array of input items.', 'invalid_input', 'input');

  const chat: ChatRequest = { model: req.model, messages };
  if (typeof req.max_output_tokens === 'number') chat.max_completion_tokens = req.max_output_tokens;
  if (typeof req.temperature === 'number') chat.temperature = req.temperature;
  if (typeof req.top_p === 'number') chat.top_p = req.top_p;
  if (typeof req.user === 'string') chat.user = req.user;
  if (typeof req.parallel_tool_calls === 'boolean') chat.parallel_tool_calls = req.parallel_tool_calls;
  if (Array.isArray(req.tools) && req.tools.length > 0) chat.tools = req.tools.map(toChatTool);
  if (req.tool_choice !== undefined && req.tool_choice !== null) {
    const { choice, allowed } = toChatToolChoice(req.tool_choice);
    chat.tool_choice = choice;
    // Chat has no allowed-tools list everywhere (Anthropic, most compatible servers): offering only
    // the allowed tools restricts the model the same way.
    if (allowed) {
      chat.tools = (chat.tools ?? []).filter((tool) => allowed.has(tool.function.name));
      if (chat.tools.length === 0) throw badRequest('tool_choice: allowed_tools names none of the request\'s tools.', 'invalid_tool_choice', 'tool_choice.tools');
    }
  }
  const format = req.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    const f = format as { name?: string; description?: string; schema?: Record<string, unknown>; strict?: boolean };
    chat.response_format = {
      type: 'json_schema',
      json_schema: {
        name: f.name ?? 'response',
        ...(typeof f.description === 'string' ? { description: f.description } : {}),
        schema: f.schema ?? {},
        ...(f.strict !== undefined && f.strict !== null ? { strict: f.strict } : {}),
      },
    };
  }
  // Same meaning, flat names in chat completions; a model that does not support one rejects it there
  // as the Responses API would (reasoning effort on a non-reasoning model).
  if (typeof req.reasoning?.effort === 'string') chat.reasoning_effort = req.reasoning.effort;
  if (typeof req.text?.verbosity === 'string') chat.verbosity = req.text.verbosity;
  if (typeof req.service_tier === 'string') chat.service_tier = req.service_tier;
  if (typeof req.prompt_cache_key === 'string') chat.prompt_cache_key = req.prompt_cache_key;
  if (typeof req.safety_identifier === 'string') chat.safety_identifier = req.safety_identifier;
  if (req.stream === true) {
    chat.stream = true;
    // Usage is how the answer is priced; the chat path only reports it in streams when asked.
    chat.stream_options = { include_usage: true };
  }
  return chat as unknown as Record<string, unknown>;
}

/**
 * Stored responses live at the Responses-API provider. A chat-only provider has none, so a request
 * that continues one (previous_response_id, conversation) or asks for one to be kept (store: true)
 * cannot be honoured; answering it anyway would silently drop the conversation's history. Background
 * mode is the same: its answer is polled by id later.
 * (`store` omitted is not refused: clients rarely set it, and the answer says `store: false`.)
 */
function refuseServerState(req: ResponsesRequest): void {
  const why = "this model's provider speaks chat completions only and keeps no stored responses";
  if (req.previous_response_id !== undefined && req.previous_response_id !== null) {
    throw badRequest(`previous_response_id is not supported: ${why}. Send the whole conversation in input instead.`, 'unsupported_parameter', 'previous_response_id');
  }
  if (req.conversation !== undefined && req.conversation !== null) {
    throw badRequest(`conversation is not supported: ${why}. Send the whole conversation in input instead.`, 'unsupported_parameter', 'conversation');
  }
  if (req.background === true) {
    // Background mode answers "queued" and is polled by id later: there is nothing to poll here.
    throw badRequest(`background: true is not supported: ${why}, so there is nothing to poll. Leave background out and wait for the answer (or stream it).`, 'unsupported_parameter', 'background');
  }
  if (req.store === true) {
    throw badRequest(`store: true is not supported: ${why}. Send store: false or leave it out.`, 'unsupported_parameter', 'store');
  }
}

function addInputItem(messages: ChatMessage[], item: ResponsesInputItem, i: number): void {
  if (item.type === 'function_call') {
    const call = item as Extract<ResponsesInputItem, { type: 'function_call' }>;
    const toolCall = { id: call.call_id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } };
    // Parallel calls are separate items in Responses but one assistant message in chat.
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant' && (last.tool_calls?.length ?? 0) > 0) last.tool_calls?.push(toolCall);
    else messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] });
    return;
  }
  if (item.type === 'function_call_output') {
    const out = item as Extract<ResponsesInputItem, { type: 'function_call_output' }>;
    const content = typeof out.output === 'string' ? out.output : out.output.map((p, j) => toChatPart(p, i, j));
    messages.push({ role: 'tool', tool_call_id: out.call_id, content });
    return;
  }
  if (item.type !== undefined && item.type !== 'message') {
    throw badRequest(`input[${i}]: item type "${item.type}" is not supported by this model.`, 'unsupported_input_item', `input[${i}]`);
  }
  const msg = item as Extract<ResponsesInputItem, { role: string }>;
  const role = msg.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    throw badRequest(`input[${i}]: unknown role.`, 'invalid_role', `input[${i}].role`);
  }
  const content = typeof msg.content === 'string' ? msg.content : msg.content.map((p, j) => toChatPart(p, i, j));
  messages.push({ role, content: role === 'assistant' && Array.isArray(content) ? content.map((p) => (p as { text?: string }).text ?? '').join('') : content });
}

function toChatPart(part: ResponsesContentPart, i: number, j: number): ChatContentPart {
  if ((part.type === 'input_text' || part.type === 'output_text') && typeof part.text === 'string') return { type: 'text', text: part.text };
  if (part.type === 'input_image' && typeof part.image_url === 'string') {
    return { type: 'image_url', image_url: { url: part.image_url, ...(typeof part.detail === 'string' ? { detail: part.detail } : {}) } };
  }
  throw badRequest(`input[${i}].content[${j}]: content type "${part.type}" is not supported by this model.`, 'unsupported_content', `input[${i}].content[${j}]`);
}

function toChatTool(tool: ResponsesTool, i: number): ChatTool {
  if (tool.type === 'function' && typeof tool.name !== 'string' && typeof (tool as { function?: unknown }).function === 'object') {
    // The chat-completions shape sent to /v1/responses; the real API rejects it too, but says why.
    throw badRequest(
      `tools[${i}]: the Responses API takes flat function tools ({"type":"function","name":…,"parameters":…}), not the chat-completions form with a nested "function" object.`,
      'invalid_tool',
      `tools[${i}].name`,
    );
  }
  if (tool.type === 'function' && typeof tool.name !== 'string') {
    throw badRequest(`tools[${i}]: a function tool needs a "name".`, 'invalid_tool', `tools[${i}].name`);
  }
  if (tool.type !== 'function' || typeof tool.name !== 'string') {
    throw badRequest(`tools[${i}]: only function tools are supported by this model (got "${tool.type}").`, 'unsupported_tool', `tools[${i}]`);
  }
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      ...(tool.parameters ? { parameters: tool.parameters } : {}),
      ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
    },
  };
}

function toChatToolChoice(choice: NonNullable<ResponsesRequest['tool_choice']>): { choice: ChatToolChoice; allowed?: Set<string> } {
  if (typeof choice === 'string') return { choice };
  if (choice.type === 'function' && typeof choice.name === 'string') return { choice: { type: 'function', function: { name: choice.name } } };
  if (choice.type === 'allowed_tools') {
    const { mode, tools } = choice as Extract<ResponsesRequest['tool_choice'], { type: 'allowed_tools' }>;
    const list = Array.isArray(tools) ? tools : [];
    const bad = list.findIndex((t) => t.type !== 'function' || typeof t.name !== 'string');
    if (bad >= 0 || (mode !== 'auto' && mode !== 'required')) {
      throw badRequest('tool_choice: allowed_tools needs mode "auto" or "required" and function tools with a name for this model.', 'unsupported_tool_choice', bad >= 0 ? `tool_choice.tools[${bad}]` : 'tool_choice.mode');
    }
    return { choice: mode, allowed: new Set(list.map((t) => t.name as string)) };
  }
  throw badRequest(`tool_choice: type "${choice.type}" is not supported by this model (use none, auto, required, a function or allowed_tools).`, 'unsupported_tool_choice', 'tool_choice');
}

// --- response --------------------------------------------------------------------------------------

export const newId = (prefix: string): string => `${prefix}_${randomBytes(16).toString('hex')}`;

export function responsesUsage(u: Usage): ResponsesUsage {
  const input = u.input + u.cachedInput + u.cacheWrite;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cachedInput },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: input + u.output,
  };
}

/** The response object's echo of the request, as the real API returns it. */
export function responseShell(request: Record<string, unknown>, model: string, id = newId('resp')): ResponsesObject {
  const req = request as unknown as ResponsesRequest;
  return {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    temperature: req.temperature ?? null,
    text: { format: req.text?.format ?? { type: 'text' }, ...(typeof req.text?.verbosity === 'string' ? { verbosity: req.text.verbosity } : {}) },
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? null,
    metadata: req.metadata ?? {},
    usage: null,
    store: false,
    previous_response_id: null,
  };
}

export function finish(response: ResponsesObject, reason: FinishReason | null, usage: Usage | undefined): void {
  response.status = reason === 'length' || reason === 'content_filter' ? 'incomplete' : 'completed';
  response.incomplete_details = reason === 'length' ? { reason: 'max_output_tokens' } : reason === 'content_filter' ? { reason: 'content_filter' } : null;
  response.usage = usage ? responsesUsage(usage) : null;
}

export function chatToResponse(completion: ChatCompletion, request: Record<string, unknown>, usage: Usage | undefined): ResponsesObject {
  const response = responseShell(request, completion.model);
  const choice = completion.choices[0];
  const text = choice?.message.content ?? '';
  if (text.length > 0) {
    response.output.push({ type: 'message', id: newId('msg'), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
  }
  for (const call of choice?.message.tool_calls ?? []) {
    response.output.push({ type: 'function_call', id: newId('fc'), call_id: call.id, name: call.function.name, arguments: call.function.arguments, status: 'completed' });
  }
  finish(response, choice?.finish_reason ?? null, usage);
  return response;
}

/** Text, tool calls and finish reason of a Responses-API answer, for checks and samples. */
export function summariseResponse(json: Record<string, unknown>): ResponseSummary {
  const response = json as unknown as Partial<ResponsesObject>;
  const summary: ResponseSummary = { content: '', toolCalls: [], finishReason: null };
  for (const item of response.output ?? []) {
    if (item.type === 'message') summary.content += item.content.map((c) => (c.type === 'output_text' ? c.text : '')).join('');
    if (item.type === 'function_call') summary.toolCalls.push({ id: item.call_id, name: item.name, arguments: item.arguments });
  }
  summary.finishReason = finishReasonOf(response);
  return summary;
}

export function finishReasonOf(response: Partial<ResponsesObject>): string | null {
  if (response.status === 'incomplete') return response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  if (response.status !== 'completed') return null;
  return (response.output ?? []).some((o) => o.type === 'function_call') ? 'tool_calls' : 'stop';
}
