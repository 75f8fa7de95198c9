/** What every check returns. `score` is 0..1; for all-or-nothing checks it is 1 on pass, 0 on fail. */
export interface CheckResult {
  pass: boolean;
  score: number;
  reason: string;
}

/** One model answer, as seen by a check — the same shape online (live traffic) and offline (evals). */
export interface CheckInput {
  /** Final assembled assistant text (streams already assembled). */
  output: string;
  finishReason?: string | null;
  /** `arguments` is the raw JSON string, exactly as in OpenAI `tool_calls`. */
  toolCalls?: { name: string; arguments: string }[];
  usage?: { outputTokens?: number };
  /** Named source texts (e.g. case vars, the user prompt as "input"). */
  sources?: Record<string, string>;
  /** Expected value from an eval case, if any. */
  reference?: unknown;
}

/**
 * A check spec that can never run: bad regex, bad JSON schema, missing or contradictory params.
 * Thrown by `compileCheck` / `validateCheckSpec`, i.e. when config is loaded, never per request.
 */
export class CheckConfigError extends Error {
  override name = 'CheckConfigError';
}
