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

export interface AnthropicUsageWire {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/**
 * Anthropic: `input_tokens` EXCLUDES cache reads and cache writes, so the buckets map one to one.
 * Anthropic does not report thinking tokens separately; they are in `output_tokens`.
 */
export function fromAnthropicUsage(u: AnthropicUsageWire | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  return {
    input: n(u.input_tokens),
    cachedInput: n(u.cache_read_input_tokens),
    cacheWrite: n(u.cache_creation_input_tokens),
    output: n(u.output_tokens),
    reasoning: 0,
  };
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

/**
 * For a stream that stopped before the upstream reported usage (client disconnect, cut, timeout):
 * the provider still bills the prompt and what it generated. ~4 characters a token for the prompt,
 * one token per content/tool-call delta for the output. Marked as estimated wherever it is reported.
 */
export function estimateUsage(request: Record<string, unknown>, outputDeltas: number): Usage {
  const prompt = JSON.stringify(request.messages ?? request.input ?? '') + (typeof request.instructions === 'string' ? request.instructions : '');
  return { input: Math.ceil(prompt.length / 4), cachedInput: 0, cacheWrite: 0, output: outputDeltas, reasoning: 0 };
}
