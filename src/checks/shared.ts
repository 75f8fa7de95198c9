import { Type, type TProperties } from '@sinclair/typebox';
import { CheckConfigError, type CheckInput, type CheckResult } from './types.js';

/** A compiled check body; everything expensive was done before it was created. */
export type Run = (input: CheckInput) => CheckResult;

/** The check name becomes a Prometheus label value, so keep it to a boring, bounded alphabet. */
export const CheckName = Type.String({ pattern: '^[a-z0-9_]+$', description: 'metric label, [a-z0-9_]+' });

/** Every spec: `name`, a literal `type`, its own params, and nothing else (typos are errors, not no-ops). */
export function checkSpec<T extends string, P extends TProperties>(type: T, params: P) {
  return Type.Object({ name: CheckName, type: Type.Literal(type), ...params }, { additionalProperties: false });
}

/** Optional flag for checks that parse the output as JSON: accept one ```json fenced block around it. */
export const AllowCodeFence = Type.Optional(
  Type.Boolean({ description: 'accept output wrapped in a single ``` / ```json fence (default false)' }),
);

/** Result of an all-or-nothing check. */
export function verdict(pass: boolean, reason: string): CheckResult {
  return { pass, score: pass ? 1 : 0, reason };
}

/** Cut text to `max` characters (code points, so no emoji is split) for one-line reasons. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
}

/** Quote a piece of model output for a reason string. */
export function quote(text: string, max = 60): string {
  return JSON.stringify(truncate(text, max));
}

// `g` and `y` make RegExp.test() stateful (it resumes from lastIndex), so one compiled check
// would give different answers for the same output on consecutive requests.
const ALLOWED_FLAGS = /^[imsuv]*$/;

/** Compile a user-supplied pattern once, turning every problem into a config error that names it. */
export function compileRegex(pattern: string, flags: string, what: string): RegExp {
  if (!ALLOWED_FLAGS.test(flags)) {
    throw new CheckConfigError(`${what}: flags ${JSON.stringify(flags)} not allowed (use i, m, s, u, v; g and y make matching stateful)`);
  }
  let re: RegExp;
  try {
    re = new RegExp(pattern, flags);
  } catch (err) {
    throw new CheckConfigError(`${what}: invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  const nested = nestedQuantifier(pattern);
  if (nested !== undefined) {
    throw new CheckConfigError(
      `${what}: ${JSON.stringify(nested)} repeats a repeated group, which can backtrack for minutes on a long answer and stall the gateway (JavaScript regexes have no timeout); drop the inner or the outer quantifier`,
    );
  }
  return re;
}

const UNBOUNDED = /^(?:[+*]|\{\d+,\})\??/;
// One atom (escape, character class or plain character) under an unbounded quantifier: `a+`, `\w*`, `[a-z]{2,}`.
const REPEATED_ATOM = /^(?:\\.|\[(?:\\.|[^\]\\])*\]|[^()|\\[\]])(?:[+*]|\{\d+,\})\??$/;

/**
 * The classic catastrophic shape: a group whose whole body is one repeated atom, itself repeated
 * without bound — `(a+)+`, `(?:\w*)*`, `([a-z]+){2,}`. On a near-miss input the engine tries every
 * way to split the run between the two loops (exponential). Returns the offending text, if any.
 */
function nestedQuantifier(pattern: string): string | undefined {
  const open: number[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') open.push(i);
    else if (ch === ')') {
      const start = open.pop();
      if (start === undefined) continue;
      const body = pattern.slice(start + 1, i).replace(/^\?(?::|<[^>=!]*>)/, '');
      const after = UNBOUNDED.exec(pattern.slice(i + 1));
      if (after && REPEATED_ATOM.test(body)) return pattern.slice(start, i + 1 + after[0].length);
    }
  }
  return undefined;
}

/**
 * Case-insensitive comparison form. toLowerCase() alone is not Unicode case folding: "STRASSE" and
 * "straße" stay different, as do "ΟΔΟΣ" and "οδος" (final sigma). Upper-then-lower maps ß → ss and
 * ligatures to letters; σ/ς are one letter. NFC first, so é typed as e + U+0301 equals é.
 */
export function foldCase(text: string): string {
  return text.normalize('NFC').toUpperCase().toLowerCase().replace(/ς/gu, 'σ').normalize('NFC');
}

/**
 * NFKC leaves typographic punctuation alone, yet a model and a source routinely disagree on it:
 * the source says O’Brien or 2019–2020, the model writes O'Brien or 2019-2020. One form each.
 */
export function foldTypography(text: string): string {
  return text
    .replace(/[\u2018\u2019\u201A\u201B\u2032\u02BC\u0060\u00B4]/gu, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/gu, '"')
    .replace(/[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/gu, '-');
}

/**
 * The loose form two texts are compared in when one should be "found in" the other (entities in a
 * source, expected items in an answer): compatibility forms made plain (NFKC: full-width letters,
 * ligatures), typographic quotes and dashes folded, Unicode case folding, runs of whitespace as one space.
 */
export function looseText(text: string): string {
  return foldCase(foldTypography(text.normalize('NFKC'))).replace(/\s+/gu, ' ').trim();
}

/** Params that accept either `value: "x"` or `values: ["x", "y"]` — exactly one of them. */
export function oneOrMany(spec: { value?: string; values?: string[] }, what: string): string[] {
  if ((spec.value === undefined) === (spec.values === undefined)) {
    throw new CheckConfigError(`${what}: give exactly one of "value" or "values"`);
  }
  const list = spec.values ?? (spec.value === undefined ? [] : [spec.value]);
  if (list.length === 0) throw new CheckConfigError(`${what}: "values" must not be empty`);
  return list;
}
