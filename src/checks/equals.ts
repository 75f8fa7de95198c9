import { Type, type Static } from '@sinclair/typebox';
import { parseOutputJson } from './json.js';
import { AllowCodeFence, checkSpec, foldCase, quote, truncate, verdict, type Run } from './shared.js';
import { CheckConfigError } from './types.js';

export const EqualsSpec = checkSpec('equals', {
  value: Type.Optional(Type.Unknown({ description: 'expected value: a string, or any JSON value' })),
  reference: Type.Optional(Type.Literal(true, { description: "compare against the eval case's reference" })),
  trim: Type.Optional(Type.Boolean({ description: 'string compare: ignore leading/trailing whitespace (default true)' })),
  ignoreCase: Type.Optional(Type.Boolean({ description: 'string compare: ignore case (default false)' })),
  allowCodeFence: AllowCodeFence,
});

/**
 * A string expectation compares text; any other JSON value (number, object, array, boolean, null)
 * parses the output as JSON and compares structurally (object key order ignored, array order kept).
 * With `reference: true` the expectation is the case's reference; a case without one is an error,
 * never a silent pass — so online traffic (which has no reference) should use `value`.
 */
export function compileEquals(spec: Static<typeof EqualsSpec>): Run {
  const hasValue = spec.value !== undefined;
  if (hasValue === (spec.reference === true)) {
    throw new CheckConfigError('give exactly one of "value" or "reference: true"');
  }
  const trim = spec.trim ?? true;
  const text = (s: string): string => {
    const t = trim ? s.trim() : s;
    // The same text typed precomposed or decomposed is the same text; ignoreCase is Unicode case folding.
    return spec.ignoreCase === true ? foldCase(t) : t.normalize('NFC');
  };
  return ({ output, reference }) => {
    const expected = hasValue ? spec.value : reference;
    if (expected === undefined) throw new Error('equals: this case has no reference value');
    if (typeof expected === 'string') {
      const same = text(output) === text(expected);
      return verdict(same, same ? 'output equals expected text' : `expected ${quote(expected)}, got ${quote(output)}`);
    }
    const parsed = parseOutputJson(output, spec.allowCodeFence);
    if (!parsed.ok) return verdict(false, `expected JSON ${truncate(JSON.stringify(expected), 60)}, but ${parsed.reason}`);
    const diff = firstDifference(expected, parsed.value, '$');
    return verdict(diff === null, diff ?? 'output equals expected JSON');
  };
}

/** Walks two JSON values and describes the first place they differ, or null when equal. */
export function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  const show = (v: unknown): string => truncate(JSON.stringify(v) ?? String(v), 40);
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (const [i, item] of expected.entries()) {
      const diff = firstDifference(item, actual[i], `${path}[${i}]`);
      if (diff !== null) return diff;
    }
    return null;
  }
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const extra = Object.keys(actual).find((k) => !Object.hasOwn(expected, k));
    if (extra !== undefined) return `${path}: unexpected key ${quote(extra)}`;
    for (const [key, item] of Object.entries(expected)) {
      if (!Object.hasOwn(actual, key)) return `${path}: missing key ${quote(key)}`;
      const diff = firstDifference(item, actual[key], `${path}.${key}`);
      if (diff !== null) return diff;
    }
    return null;
  }
  return expected === actual ? null : `${path}: expected ${show(expected)}, got ${show(actual)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
