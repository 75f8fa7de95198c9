// A faithful fake of Anthropic's Messages API on loopback, for tests: the same headers, bodies, SSE
// event sequences (message_start, content_block_start/delta/stop with text_delta and input_json_delta,
// ping, message_delta, message_stop), usage with cache reads/writes excluded from input_tokens, and
// error bodies (`{"type":"error","error":{...}}`, 529 overloaded_error, in-stream error events). Answers
// are planned by the same engine as the OpenAI fake, so both arms of a test see comparable content.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Simulation } from '../config/types.js';
import { planChat, type ChatMessage, type ChatRequestLike, type SimPlan } from './engine.js';
import type {
  AnthropicMessage,
  AnthropicRequest,
  AnthropicResponse,
  AnthropicResponseBlock,
  AnthropicStopReason,
  AnthropicStreamEvent,
  AnthropicUsage,
} from '../providers/anthropic/wire.js';
import { clientGone, pause, readBody, sendJson } from './http-util.js';

export type AnthropicFault =
  | { kind: 'status'; status: number; errorType?: string; message?: string; retryAfter?: string }
  | { kind: 'reset' }
  | { kind: 'slow-headers'; ms: number }
  | { kind: 'cut-stream'; afterEvents: number }
  | { kind: 'stall'; afterEvents: number; ms: number }
  | { kind: 'stream-error'; afterEvents: number; errorType?: string; message?: string };

export interface FakeAnthropicOptions {
  simulation?: Simulation;
  /** Required x-api-key; other keys get Anthropic's 401. */
  apiKey?: string;
  /** Prompt tokens reported as read from / written to the prompt cache (excluded from input_tokens). */
  cache?: { read?: number; write?: number };
  /** Text Claude typically says before a tool call ("Let me check that."); '' for none. */
  toolPreamble?: string;
  /** Ends every answer with this stop_reason (`pause_turn`, `refusal`…) instead of the planned one. */
  stopReason?: AnthropicStopReason;
}

export interface RecordedAnthropicRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: AnthropicRequest | undefined;
}

const ERROR_TYPE_FOR_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export class FakeAnthropic {
  readonly requests: RecordedAnthropicRequest[] = [];
  /** Streams whose client (the gateway) closed the connection before the answer was complete. */
  abandonedStreams = 0;
  private readonly faults: AnthropicFault[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  url = '';

  constructor(private readonly options: FakeAnthropicOptions = {}) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  inject(fault: AnthropicFault, count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push(fault);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let body: AnthropicRequest | undefined;
    try {
      body = raw ? (JSON.parse(raw) as AnthropicRequest) : undefined;
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'There was an issue with the format or content of your request.');
    }
    this.requests.push({ path, headers: req.headers, body });
    if (req.method !== 'POST' || path !== '/v1/messages') return sendError(res, 404, 'not_found_error', `Not found: ${path}`);
    if (this.options.apiKey && req.headers['x-api-key'] !== this.options.apiKey) return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const invalid = validate(body);
    if (invalid || !body) return sendError(res, 400, 'invalid_request_error', invalid ?? 'body required');

    const gone = clientGone(res);
    const fault = this.faults.shift();
    if (fault?.kind === 'reset') return void res.socket?.destroy();
    if (fault?.kind === 'status') {
      const type = fault.errorType ?? ERROR_TYPE_FOR_STATUS[fault.status] ?? 'api_error';
      return sendError(res, fault.status, type, fault.message ?? (type === 'overloaded_error' ? 'Overloaded' : `Injected ${type}`), fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {});
    }
    if (fault?.kind === 'slow-headers' && !(await pause(fault.ms, gone))) return;

    const plan = planChat(toChatLike(body), this.options.simulation);
    if (plan.headerDelayMs > 0 && !(await pause(plan.headerDelayMs, gone))) return;
    if (plan.error) {
      const type = ERROR_TYPE_FOR_STATUS[plan.error.status] ?? 'api_error';
      return sendError(res, plan.error.status, type, plan.error.message, plan.error.retryAfterSeconds !== undefined ? { 'retry-after': String(plan.error.retryAfterSeconds) } : {});
    }
    const answer = this.answer(body, plan);
    if (body.stream !== true) {
      if (!(await pause(plan.firstTokenMs + plan.interTokenMs * plan.pieces.length, gone))) return;
      return send(res, 200, answer);
    }
    await this.stream(res, answer, plan, fault, gone);
  }

  /** The complete message, as the non-streaming API returns it. */
  private answer(body: AnthropicRequest, plan: SimPlan): AnthropicResponse {
    const content: AnthropicResponseBlock[] = [];
    let text = plan.pieces.join('');
    let stopReason: AnthropicStopReason = plan.finishReason === 'length' ? 'max_tokens' : plan.toolCalls.length > 0 ? 'tool_use' : 'end_turn';
    let stopSequence: string | null = null;
    for (const stop of body.stop_sequences ?? []) {
      const at = text.indexOf(stop);
      if (at >= 0) {
        text = text.slice(0, at);
        stopReason = 'stop_sequence';
        stopSequence = stop;
      }
    }
    if (this.options.stopReason) stopReason = this.options.stopReason;
    const preamble = this.options.toolPreamble ?? 'Let me check that.';
    if (plan.toolCalls.length > 0 && preamble) content.push({ type: 'text', text: preamble });
    else if (plan.toolCalls.length === 0) content.push({ type: 'text', text });
    for (const call of plan.toolCalls) {
      content.push({ type: 'tool_use', id: `toolu_${randomBytes(12).toString('hex')}`, name: call.name, input: JSON.parse(call.arguments) as Record<string, unknown> });
    }
    const read = this.options.cache?.read ?? 0;
    const write = this.options.cache?.write ?? 0;
    const usage: AnthropicUsage = {
      input_tokens: Math.max(1, plan.usage.prompt_tokens - read - write),
      cache_creation_input_tokens: write,
      cache_read_input_tokens: read,
      output_tokens: plan.usage.completion_tokens,
    };
    return {
      id: `msg_${randomBytes(12).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage,
    };
  }

  private async stream(res: ServerResponse, answer: AnthropicResponse, plan: SimPlan, fault: AnthropicFault | undefined, gone: AbortSignal): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': `req_${randomBytes(8).toString('hex')}` });
    res.flushHeaders();
    let finished = false;
    res.on('close', () => {
      if (!finished) this.abandonedStreams++;
    });
    let sent = 0;
    for (const { delayMs, event } of eventSequence(answer, plan)) {
      if (delayMs > 0 && !(await pause(delayMs, gone))) return;
      if (res.destroyed) return;
      if (fault?.kind === 'cut-stream' && sent === fault.afterEvents) return void res.socket?.destroy();
      if (fault?.kind === 'stall' && sent === fault.afterEvents && !(await pause(fault.ms, gone))) return;
      if (fault?.kind === 'stream-error' && sent === fault.afterEvents) {
        const type = fault.errorType ?? 'overloaded_error';
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message: fault.message ?? 'Overloaded' } })}\n\n`);
        finished = true;
        return void res.end();
      }
      if (res.destroyed) return;
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      sent++;
    }
    finished = true;
    res.end();
  }
}

/** The event sequence the real API sends for `answer`, with the plan's timing. */
export function* eventSequence(answer: AnthropicResponse, plan: SimPlan): Generator<{ delayMs: number; event: AnthropicStreamEvent }> {
  const usage = answer.usage;
  // message_start carries the input side of usage and a token or so of output, as the API does.
  yield { delayMs: 0, event: { type: 'message_start', message: { ...answer, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } } };
  let first = true;
  const wait = () => {
    const ms = first ? plan.firstTokenMs : plan.interTokenMs;
    first = false;
    return ms;
  };
  for (const [index, block] of answer.content.entries()) {
    if (block.type === 'text') {
      yield { delayMs: 0, event: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } } };
      if (index === 0) yield { delayMs: 0, event: { type: 'ping' } };
      for (const piece of pieces(block.text, plan)) yield { delayMs: wait(), event: { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } } };
    } else if (block.type === 'tool_use') {
      yield { delayMs: wait(), event: { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } } };
      if (index === 0) yield { delayMs: 0, event: { type: 'ping' } };
      const json = JSON.stringify(block.input);
      // The API opens with an empty fragment, then sends the arguments in small pieces.
      yield { delayMs: 0, event: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } } };
      for (let at = 0; at < json.length; at += 12) {
        yield { delayMs: plan.interTokenMs, event: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(at, at + 12) } } };
      }
    }
    yield { delayMs: 0, event: { type: 'content_block_stop', index } };
  }
  yield { delayMs: 0, event: { type: 'message_delta', delta: { stop_reason: answer.stop_reason, stop_sequence: answer.stop_sequence }, usage: { output_tokens: usage.output_tokens ?? 0 } } };
  yield { delayMs: 0, event: { type: 'message_stop' } };
}

/** The text split the way the plan split it (stop sequences may have shortened it). */
function pieces(text: string, plan: SimPlan): string[] {
  const out: string[] = [];
  let rest = text;
  for (const piece of plan.pieces) {
    if (rest.length === 0) break;
    const take = rest.startsWith(piece) ? piece : rest.slice(0, piece.length);
    out.push(take);
    rest = rest.slice(take.length);
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

function validate(body: AnthropicRequest | undefined): string | undefined {
  if (!body || typeof body !== 'object') return 'body: a JSON object is required';
  if (typeof body.model !== 'string') return 'model: Field required';
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i > 0 && body.messages[i - 1]?.role === m.role && hasToolResult(m)) return `messages.${i}: tool_result blocks must follow the assistant turn with the tool_use`;
  }
  if (typeof body.temperature === 'number' && (body.temperature < 0 || body.temperature > 1)) return 'temperature: range: 0..1';
  // As the current models (Claude 4.5 and later) answer; older ones accepted both.
  if (body.temperature !== undefined && body.top_p !== undefined) return '`temperature` and `top_p` cannot both be specified for this model. Please use only one.';
  return undefined;
}

function hasToolResult(m: AnthropicMessage): boolean {
  return Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result');
}

/** The Messages request as the engine's chat-shaped input (text, tools, tool choice). */
function toChatLike(body: AnthropicRequest): ChatRequestLike {
  const messages: ChatMessage[] = [];
  if (body.system) messages.push({ role: 'system', content: typeof body.system === 'string' ? body.system : body.system.map((b) => b.text).join('') });
  for (const m of body.messages) {
    if (typeof m.content === 'string') {
      messages.push({ role: m.role, content: m.content });
      continue;
    }
    const text = m.content.map((b) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? (typeof b.content === 'string' ? b.content : '') : '')).join('');
    messages.push({ role: hasToolResult(m) ? 'tool' : m.role, content: text });
  }
  const choice = body.tool_choice;
  return {
    messages,
    ...(body.tools ? { tools: body.tools.map((t) => ({ type: 'function', function: { name: t.name, parameters: t.input_schema } })) } : {}),
    ...(choice ? { tool_choice: choice.type === 'none' ? 'none' : choice.type === 'tool' ? { type: 'function', function: { name: choice.name } } : choice.type === 'any' ? 'required' : 'auto' } : {}),
    max_tokens: body.max_tokens,
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { 'request-id': `req_${randomBytes(8).toString('hex')}`, ...headers });
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  send(res, status, { type: 'error', error: { type, message } }, { 'x-should-retry': String(status === 429 || status >= 500), ...headers });
}


