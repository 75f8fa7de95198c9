// OpenAI wire formats for a simulated plan: the non-streaming body and the timed chunk sequence,
// exactly as api.openai.com frames them (role chunk first, usage chunk with empty choices last).
import { randomBytes } from 'node:crypto';
import type { SimChoice, SimPlan } from './engine.js';

export interface TimedChunk {
  delayMs: number;
  chunk: Record<string, unknown>;
}

export function completionId(): string {
  return `chatcmpl-${randomBytes(12).toString('base64url')}`;
}

export function completionBody(plan: SimPlan, model: string, id = completionId()): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: choicesOf(plan).map((choice, index) => ({
      index,
      message: {
        role: 'assistant',
        content: choice.toolCalls.length > 0 ? null : choice.pieces.join(''),
        refusal: null,
        ...(choice.toolCalls.length > 0
          ? {
              tool_calls: choice.toolCalls.map((t) => ({
                id: t.id,
                type: 'function',
                function: { name: t.name, arguments: t.arguments },
              })),
            }
          : {}),
      },
      logprobs: null,
      finish_reason: choice.finishReason,
    })),
    usage: plan.usage,
    system_fingerprint: 'fp_bellwether_sim',
  };
}

/**
 * The stream of a plan. With `n` > 1 the choices' chunks interleave (one chunk per choice in turn,
 * each tagged with its `index`), as the real API sends them; the usage chunk, summed over choices,
 * comes once at the end.
 */
export function* chunkSequence(plan: SimPlan, model: string, includeUsage: boolean, id = completionId()): Generator<TimedChunk> {
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_bellwether_sim' };
  const streams = choicesOf(plan).map((choice, index) => choiceChunks(choice, index, plan, base, includeUsage));
  while (streams.length > 0) {
    // One chunk from each unfinished choice per round; the round's pacing comes from its first chunk.
    let first = true;
    for (let i = 0; i < streams.length; ) {
      const next = streams[i]?.next();
      if (!next || next.done) {
        streams.splice(i, 1);
        continue;
      }
      yield first ? next.value : { ...next.value, delayMs: 0 };
      first = false;
      i++;
    }
  }
  if (includeUsage) yield { delayMs: 0, chunk: { ...base, choices: [], usage: plan.usage } };
}

function choicesOf(plan: SimPlan): SimChoice[] {
  return [plan, ...plan.moreChoices];
}

function* choiceChunks(choice: SimChoice, index: number, plan: SimPlan, base: Record<string, unknown>, includeUsage: boolean): Generator<TimedChunk> {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  yield { delayMs: 0, chunk: chunk({ role: 'assistant', content: '', refusal: null }) };
  let first = true;
  for (const [i, t] of choice.toolCalls.entries()) {
    yield {
      delayMs: first ? plan.firstTokenMs : plan.interTokenMs,
      chunk: chunk({ tool_calls: [{ index: i, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }),
    };
    first = false;
    // Arguments arrive in fragments, like the real API.
    for (let at = 0; at < t.arguments.length; at += 16) {
      yield {
        delayMs: plan.interTokenMs,
        chunk: chunk({ tool_calls: [{ index: i, function: { arguments: t.arguments.slice(at, at + 16) } }] }),
      };
    }
  }
  for (const piece of choice.pieces) {
    yield { delayMs: first ? plan.firstTokenMs : plan.interTokenMs, chunk: chunk({ content: piece }) };
    first = false;
  }
  yield { delayMs: first ? plan.firstTokenMs : 0, chunk: chunk({}, choice.finishReason) };
}

export function errorBody(plan: SimPlan): Record<string, unknown> {
  const e = plan.error;
  return { error: { message: e?.message ?? 'error', type: e?.type ?? 'server_error', param: null, code: e?.code ?? null } };
}

/**
 * The error body api.openai.com sends for a bare status: client errors are invalid_request_error
 * (401 with invalid_api_key, 404 with model_not_found), 429 is a `requests` rate limit, 5xx are
 * server_error. The SDK exposes `type` and `code`, and clients branch on them.
 */
export function statusErrorBody(status: number, model = 'the requested model'): { error: { message: string; type: string; param: null; code: string | null } } {
  const error = (type: string, code: string | null, message: string) => ({ error: { message, type, param: null, code } });
  if (status === 401) return error('invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.');
  if (status === 404) return error('invalid_request_error', 'model_not_found', `The model \`${model}\` does not exist or you do not have access to it.`);
  if (status === 429) return error('requests', 'rate_limit_exceeded', `Rate limit reached for ${model} on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.`);
  if (status === 503) return error('server_error', null, 'The engine is currently overloaded, please try again later.');
  if (status >= 500) return error('server_error', null, 'The server had an error while processing your request. Sorry about that!');
  return error('invalid_request_error', null, `Injected HTTP ${status}`);
}

/** The x-ratelimit-* headers OpenAI sends with a 429 (and Retry-After when the plan has one). */
/** Headers of an error answer: a 429 carries the rate-limit headers, any error its Retry-After. */
export function errorHeaders(status: number, retryAfter?: string): Record<string, string> {
  const after: Record<string, string> = retryAfter !== undefined ? { 'retry-after': retryAfter } : {};
  return status === 429 ? { ...rateLimitHeaders(), ...after } : after;
}

function rateLimitHeaders(): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '120ms',
    'x-ratelimit-limit-tokens': '200000',
    'x-ratelimit-remaining-tokens': '199000',
    'x-ratelimit-reset-tokens': '300ms',
  };
}
