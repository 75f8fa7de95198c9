// What an answer said — text, tool calls, finish reason — for checks, samples and traces. Kept
// free of heavy imports: the sampling worker thread uses it too.
import type { Operation } from '../providers/types.js';
import type { ResponseSummary } from './ledger.js';
import { summariseResponse } from './responses.js';

export function summariseCompletion(json: Record<string, unknown>): ResponseSummary {
  const choice = (json.choices as { message?: { content?: unknown; tool_calls?: unknown }; finish_reason?: string | null }[] | undefined)?.[0];
  const calls = (choice?.message?.tool_calls as { id?: string; function?: { name?: string; arguments?: string } }[] | undefined) ?? [];
  return {
    content: typeof choice?.message?.content === 'string' ? choice.message.content : '',
    toolCalls: calls.map((c) => ({ ...(c.id ? { id: c.id } : {}), name: c.function?.name ?? '', arguments: c.function?.arguments ?? '' })),
    finishReason: choice?.finish_reason ?? null,
  };
}

export function summariseAnswer(operation: Operation, json: Record<string, unknown>): ResponseSummary {
  return operation === 'responses' ? summariseResponse(json) : summariseCompletion(json);
}

/**
 * summariseAnswer, deferred until something reads it (RequestLedger.respondedWith). Made here rather
 * than as an arrow in the request handler: a closure shares the scope of the function it is made in,
 * and the handler's scope holds the reply, the request and their socket — a ledger held for late
 * feedback kept all of them alive with it. It takes the answer, not its parsed body: reading `json`
 * is the full parse (a JSON answer parses on first use), which most requests — not checked, not
 * sampled — never need.
 */
export function summaryLater(operation: Operation, answer: { readonly json: Record<string, unknown> }): () => ResponseSummary {
  return () => summariseAnswer(operation, answer.json);
}
