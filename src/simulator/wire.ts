// OpenAI wire formats for a simulated plan: the non-streaming body and the timed chunk sequence,
// exactly as api.openai.com frames them (role chunk first, usage chunk with empty choices last).
import { randomBytes } from 'node:crypto';
import type { SimPlan } from './engine.js';

export interface TimedChunk {
  delayMs: number;
  chunk: Record<string, unknown>;
}

export function completionId(): string {
  return `chatcmpl-${randomBytes(12).toString('base64url')}`;
}

export function completionBody(plan: SimPlan, model: string, id = completionId()): Record<string, unknown> {
  const content = plan.pieces.join('');
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: plan.toolCalls.length > 0 ? null : content,
          refusal: null,
          ...(plan.toolCalls.length > 0
            ? {
                tool_calls: plan.toolCalls.map((t) => ({
                  id: t.id,
                  type: 'function',
                  function: { name: t.name, arguments: t.arguments },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: plan.finishReason,
      },
    ],
    usage: plan.usage,
    system_fingerprint: 'fp_bellwether_sim',
  };
}

export function* chunkSequence(plan: SimPlan, model: string, includeUsage: boolean, id = completionId()): Generator<TimedChunk> {
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_bellwether_sim' };
  const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  yield { delayMs: 0, chunk: choice({ role: 'assistant', content: '', refusal: null }) };
  let first = true;
  for (const [i, t] of plan.toolCalls.entries()) {
    yield {
      delayMs: first ? plan.firstTokenMs : plan.interTokenMs,
      chunk: choice({ tool_calls: [{ index: i, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }),
    };
    first = false;
    // Arguments arrive in fragments, like the real API.
    for (let at = 0; at < t.arguments.length; at += 16) {
      yield {
        delayMs: plan.interTokenMs,
        chunk: choice({ tool_calls: [{ index: i, function: { arguments: t.arguments.slice(at, at + 16) } }] }),
      };
    }
  }
  for (const piece of plan.pieces) {
    yield { delayMs: first ? plan.firstTokenMs : plan.interTokenMs, chunk: choice({ content: piece }) };
    first = false;
  }
  yield { delayMs: first ? plan.firstTokenMs : 0, chunk: choice({}, plan.finishReason) };
  if (includeUsage) yield { delayMs: 0, chunk: { ...base, choices: [], usage: plan.usage } };
}

export function errorBody(plan: SimPlan): Record<string, unknown> {
  const e = plan.error;
  return { error: { message: e?.message ?? 'error', type: e?.type ?? 'server_error', param: null, code: e?.code ?? null } };
}
