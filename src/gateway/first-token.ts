// What "the first token" of a stream is, decided once: the client's time to first token and the
// first-token timeout (relay.ts), where the attempt loop stops holding events back (commitsAnswer,
// attempts.ts) and the shadow arm's time to first token (rollout/shadow.ts). Measured alike, the
// arms' TTFTs can be compared — a reasoning model's thinking is output on every arm.
import type { StreamEvent } from '../providers/types.js';

export interface ChunkChoice {
  index?: number;
  delta?: { content?: string | null; reasoning_content?: unknown; reasoning?: unknown; refusal?: unknown; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };
  finish_reason?: string | null;
}

/**
 * Output that is not the answer's text is still output: a reasoning model streaming its thinking
 * (vLLM, DeepSeek: `reasoning_content`; others: `reasoning`) or a refusal has started answering.
 */
export function hasSideOutput(delta: ChunkChoice['delta']): boolean {
  return nonEmpty(delta?.reasoning_content) || nonEmpty(delta?.reasoning) || nonEmpty(delta?.refusal);
}

/** A chat chunk's delta with output in it: content, a tool call, reasoning or a refusal. */
export function deltaHasOutput(delta: ChunkChoice['delta']): boolean {
  return nonEmpty(delta?.content) || (delta?.tool_calls?.length ?? 0) > 0 || hasSideOutput(delta);
}

/** Responses-API deltas that are output when not empty: the answer's text, a refusal, reasoning. */
const RESPONSES_TEXT_DELTAS = new Set(['response.output_text.delta', 'response.refusal.delta', 'response.reasoning_text.delta', 'response.reasoning_summary_text.delta']);

/**
 * Whether an event carries output; the first such event is the first token. Chat: a chunk where any
 * choice's delta has content, a tool call, reasoning or a refusal. Responses API: a non-empty text,
 * refusal or reasoning delta, a function call starting, or its arguments.
 */
export function carriesOutput(event: StreamEvent): boolean {
  const json = event.json;
  if (!json) return false;
  const choices = json.choices;
  if (Array.isArray(choices)) return (choices as (ChunkChoice | null)[]).some((c) => deltaHasOutput(c?.delta));
  const type = json.type;
  if (typeof type !== 'string') return false;
  if (RESPONSES_TEXT_DELTAS.has(type)) return nonEmpty(json.delta);
  if (type === 'response.output_item.added') return (json.item as { type?: unknown } | undefined)?.type === 'function_call';
  return type === 'response.function_call_arguments.delta';
}

/** Responses-API events that come before any output: held back with the role-only chat chunks. */
const RESPONSES_PRELUDE = new Set(['response.created', 'response.queued', 'response.in_progress', 'response.content_part.added', 'response.output_item.added']);

/**
 * Whether an event commits the stream's answer: the first token (carriesOutput), a finish, [DONE],
 * or anything else that is not a preamble. The attempt loop holds back the events before it (a
 * role-only chunk, the Responses API's preamble), so a failure before the first token can still be
 * retried or fall back.
 */
export function commitsAnswer(operation: string, event: StreamEvent): boolean {
  if (event.data === '[DONE]') return true;
  const json = event.json;
  if (!json) return false; // a keep-alive payload: nothing for the client to see yet
  if (carriesOutput(event)) return true;
  if (operation === 'responses') return !(typeof json.type === 'string' && RESPONSES_PRELUDE.has(json.type));
  const choices = json.choices as (ChunkChoice | null)[] | undefined;
  if (!Array.isArray(choices) || choices.length === 0) return true;
  return choices.some((c) => Boolean(c?.finish_reason));
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}
