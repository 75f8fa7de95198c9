import { Type, type Static } from '@sinclair/typebox';
import { checkSpec, oneOrMany, quote, verdict, type Run } from './shared.js';

export const FinishReasonSpec = checkSpec('finish-reason', {
  value: Type.Optional(Type.String({ minLength: 1, description: 'expected finish reason, e.g. "stop"' })),
  values: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'any of these' })),
});

/** A missing finish reason fails: it is what a stream that was cut off looks like. */
export function compileFinishReason(spec: Static<typeof FinishReasonSpec>): Run {
  const allowed = oneOrMany(spec, 'finish-reason');
  const wanted = allowed.map((a) => quote(a)).join(' or ');
  return ({ finishReason }) => {
    if (finishReason === undefined || finishReason === null) {
      return verdict(false, `no finish reason reported (stream cut off?), expected ${wanted}`);
    }
    const ok = allowed.includes(finishReason);
    return verdict(ok, ok ? `finish reason ${quote(finishReason)}` : `finish reason ${quote(finishReason)}, expected ${wanted}`);
  };
}

// `name` is the metric label of every check, so the tool's name is `tool`.
export const ToolCalledSpec = checkSpec('tool-called', {
  tool: Type.Optional(Type.String({ minLength: 1, description: 'the function name that must be called' })),
  requiredArgs: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), { description: 'top-level argument keys that call must carry' }),
  ),
});

/**
 * Passes when at least one tool call matches `tool` (any tool if unset) and its arguments parse as a
 * JSON object holding every `requiredArgs` key. A failing reason lists what was wrong with each call.
 */
export function compileToolCalled(spec: Static<typeof ToolCalledSpec>): Run {
  const required = spec.requiredArgs ?? [];
  return ({ toolCalls }) => {
    const calls = (toolCalls ?? []).filter((c) => spec.tool === undefined || c.name === spec.tool);
    if (calls.length === 0) {
      const seen = (toolCalls ?? []).map((c) => c.name);
      const what = spec.tool === undefined ? 'no tool was called' : `${quote(spec.tool)} not called`;
      return verdict(false, seen.length > 0 ? `${what} (called: ${seen.join(', ')})` : what);
    }
    const judged = calls.map((call) => ({ call, problem: argumentProblem(call.arguments, required) }));
    const good = judged.find((j) => j.problem === null);
    if (good) return verdict(true, `called ${quote(good.call.name)}`);
    return verdict(false, judged.map((j) => `${quote(j.call.name)} called, but ${j.problem ?? ''}`).join('; '));
  };
}

/** Null when the raw arguments are a JSON object with every required key; otherwise what is wrong. */
function argumentProblem(raw: string, required: readonly string[]): string | null {
  let args: unknown;
  try {
    // Some providers send "" for a tool without parameters; that means "no arguments".
    args = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (err) {
    return `its arguments are not valid JSON: ${(err as Error).message}`;
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return 'its arguments are not a JSON object';
  const missing = required.filter((key) => !Object.hasOwn(args, key));
  return missing.length === 0 ? null : `its arguments lack ${missing.map((m) => quote(m)).join(', ')}`;
}
