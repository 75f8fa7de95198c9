// Usage normalised into disjoint buckets before pricing (NOTES.md: providers disagree on what
// "input tokens" include). `output` includes reasoning tokens, which are billed as output;
// `reasoning` is the informational subset and is never added on top.
export interface Usage {
  /** Uncached input tokens. */
  input: number;
  /** Input tokens read from the provider's prompt cache. */
  cachedInput: number;
  /** Input tokens written to the provider's prompt cache (Anthropic bills these separately). */
  cacheWrite: number;
  /** All generated tokens, reasoning included. */
  output: number;
  /** Reasoning tokens (a subset of output). */
  reasoning: number;
}

export const ZERO_USAGE: Usage = Object.freeze({ input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });

export interface OpenAIUsageWire {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  // Responses API spelling
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number | null } | null;
  output_tokens_details?: { reasoning_tokens?: number | null } | null;
}

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** OpenAI (chat completions or responses): prompt/input tokens INCLUDE cached tokens. */
export function fromOpenAIUsage(u: OpenAIUsageWire | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const prompt = n(u.prompt_tokens ?? u.input_tokens);
  const completion = n(u.completion_tokens ?? u.output_tokens);
  const cached = Math.min(prompt, n((u.prompt_tokens_details ?? u.input_tokens_details)?.cached_tokens));
  const reasoning = Math.min(completion, n((u.completion_tokens_details ?? u.output_tokens_details)?.reasoning_tokens));
  return { input: prompt - cached, cachedInput: cached, cacheWrite: 0, output: completion, reasoning };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input: a.input + b.input,
    cachedInput: a.cachedInput + b.cachedInput,
    cacheWrite: a.cacheWrite + b.cacheWrite,
    output: a.output + b.output,
    reasoning: a.reasoning + b.reasoning,
  };
}
