/**
 * The one HTTP call the eval makes: an OpenAI chat completion through the gateway (non-streaming,
 * so the gateway reports `x-bellwether-cost-usd`). Never throws for HTTP errors — the caller
 * decides what a 429 or a 500 means for a case; only a transport failure or a timeout has `status: null`.
 */
import { request } from 'undici';

export interface ChatCallResult {
  status: number | null;
  body: Record<string, unknown> | undefined;
  headers: Record<string, string>;
  latencyS: number;
  error?: string;
  /** The gateway took the request but no answer came within the timeout: the model's failure, not a transport one. */
  timedOut?: true;
}

// undici's codes for "connected and sent, but the answer did not come in time".
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The gateway headers the eval reads (PRODUCT.md section 4). */
const KEPT_HEADERS = ['x-bellwether-cost-usd', 'x-bellwether-attempts', 'x-bellwether-model', 'x-bellwether-request-id', 'x-bellwether-variant'];

export interface ChatCallOptions {
  url: string;
  body: Record<string, unknown>;
  forceVariant?: 'champion' | 'challenger';
  apiKey?: string;
  timeoutMs: number;
}

export async function postChat(opts: ChatCallOptions): Promise<ChatCallResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.forceVariant) headers['x-bellwether-variant'] = opts.forceVariant;
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const started = performance.now();
  try {
    const res = await request(`${opts.url.replace(/\/+$/, '')}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify(opts.body),
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    const text = await res.body.text();
    const latencyS = (performance.now() - started) / 1000;
    const kept: Record<string, string> = {};
    for (const h of KEPT_HEADERS) {
      const v = res.headers[h];
      if (typeof v === 'string') kept[h] = v;
    }
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return {
      status: res.statusCode,
      body,
      headers: kept,
      latencyS,
      ...(res.statusCode >= 400 ? { error: `HTTP ${res.statusCode}: ${errorMessage(body) ?? text.slice(0, 200)}` } : {}),
    };
  } catch (err) {
    const latencyS = (performance.now() - started) / 1000;
    if (TIMEOUT_CODES.has((err as { code?: string }).code ?? '')) {
      return { status: null, body: undefined, headers: {}, latencyS, error: `timeout: no answer within ${opts.timeoutMs} ms`, timedOut: true };
    }
    return { status: null, body: undefined, headers: {}, latencyS, error: `transport: ${(err as Error).message}` };
  }
}

function errorMessage(body: Record<string, unknown> | undefined): string | undefined {
  const e = body?.error;
  if (e && typeof e === 'object' && 'message' in e && typeof e.message === 'string') return e.message;
  return undefined;
}

export interface ChatAnswer {
  content: string;
  finishReason: string | null;
  toolCalls: { name: string; arguments: string }[];
  outputTokens: number | null;
}

/** The first choice of an OpenAI chat completion body, in the shape the checks read. */
export function chatAnswer(body: Record<string, unknown> | undefined): ChatAnswer {
  const choices = Array.isArray(body?.choices) ? (body.choices as unknown[]) : [];
  const first = (choices[0] ?? {}) as { message?: { content?: unknown; tool_calls?: unknown }; finish_reason?: unknown };
  const content = typeof first.message?.content === 'string' ? first.message.content : '';
  const rawCalls = Array.isArray(first.message?.tool_calls) ? (first.message.tool_calls as unknown[]) : [];
  const toolCalls = rawCalls.flatMap((c) => {
    const fn = (c as { function?: { name?: unknown; arguments?: unknown } }).function;
    return typeof fn?.name === 'string' ? [{ name: fn.name, arguments: typeof fn.arguments === 'string' ? fn.arguments : '' }] : [];
  });
  const usage = body?.usage as { completion_tokens?: unknown } | undefined;
  return {
    content,
    finishReason: typeof first.finish_reason === 'string' ? first.finish_reason : null,
    toolCalls,
    outputTokens: typeof usage?.completion_tokens === 'number' ? usage.completion_tokens : null,
  };
}
