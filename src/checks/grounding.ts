import { Type, type Static } from '@sinclair/typebox';
import { parseOutputJson } from './json.js';
import { AllowCodeFence, checkSpec, looseText, quote, truncate, type Run } from './shared.js';
import type { CheckResult } from './types.js';

export const EntitiesInSourceSpec = checkSpec('entities-in-source', {
  source: Type.String({ minLength: 1, description: 'key in input.sources holding the text items must come from' }),
  path: Type.Optional(Type.String({ description: 'dot path into the output JSON, e.g. "people.name"; arrays are flattened' })),
  minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'pass when grounded/extracted >= this (default 1)' })),
  allowEmpty: Type.Optional(Type.Boolean({ description: 'pass when nothing was extracted (default false)' })),
  allowCodeFence: AllowCodeFence,
});

/**
 * Hallucination guard for extraction: every item the model extracted must appear in the named
 * source text. Both sides are normalised (NFKC, case folding, typographic quotes and dashes made plain,
 * whitespace collapse; items also lose
 * leading/trailing punctuation) and an item must match on word boundaries, so "Art" is not
 * grounded by "start". Score = grounded / extracted.
 */
export function compileEntitiesInSource(spec: Static<typeof EntitiesInSourceSpec>): Run {
  const minScore = spec.minScore ?? 1;
  const segments = spec.path === undefined || spec.path === '' ? [] : spec.path.split('.');
  return ({ output, sources }) => {
    const sourceText = sources?.[spec.source];
    // A missing source is a wiring problem (wrong case var), not the model's fault: error, not fail.
    if (sourceText === undefined) throw new Error(`source ${quote(spec.source)} not provided`);
    const parsed = parseOutputJson(output, spec.allowCodeFence);
    if (!parsed.ok) return { pass: false, score: 0, reason: parsed.reason };
    const selected = select(parsed.value, segments);
    if (selected === undefined) return { pass: false, score: 0, reason: `path ${quote(spec.path ?? '')} not found in output` };
    const items = flattenItems(selected).map(normaliseItem).filter((item) => item !== '');
    return judge(items, looseText(sourceText), spec.source, minScore, spec.allowEmpty === true);
  };
}

function judge(items: string[], source: string, sourceName: string, minScore: number, allowEmpty: boolean): CheckResult {
  if (items.length === 0) {
    return { pass: allowEmpty, score: allowEmpty ? 1 : 0, reason: 'nothing extracted' };
  }
  const missing = items.filter((item) => !containsWord(source, item));
  const score = (items.length - missing.length) / items.length;
  const grounded = `${items.length - missing.length}/${items.length} grounded in ${quote(sourceName)}`;
  const shown = missing.slice(0, 5).map((m) => quote(m, 40)).join(', ');
  const more = missing.length > 5 ? ` (+${missing.length - 5} more)` : '';
  return { pass: score >= minScore, score, reason: missing.length === 0 ? grounded : `${grounded}; not found: ${shown}${more}` };
}

/**
 * Follows a dot path; at an array, a numeric segment indexes it and any other segment is applied to
 * every element (so "people.name" collects all names). Undefined when nothing is there.
 */
export function select(value: unknown, segments: readonly string[]): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head)) return select(value[Number(head)], rest);
    const found = value.map((v) => select(v, segments)).filter((v) => v !== undefined);
    return found.length > 0 ? found : undefined;
  }
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, head)) {
    return select((value as Record<string, unknown>)[head], rest);
  }
  return undefined;
}

/** Arrays flatten; strings, numbers and booleans are items; null is "no value"; objects mean the path stops too early. */
function flattenItems(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(flattenItems);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (value === null) return [];
  throw new Error(`extracted item is an object (${truncate(JSON.stringify(value), 40)}); point "path" at its text field`);
}

const EDGE_PUNCTUATION = /^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$/gu;

function normaliseItem(item: string): string {
  return looseText(item).replace(EDGE_PUNCTUATION, '');
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
// Scripts written without spaces between words: there a name is legitimately glued to its neighbours.
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

/** Would `a` followed by `b` be read as one word? Then a match ending between them is only part of a word. */
function joins(a: string, b: string): boolean {
  return WORD_CHAR.test(a) && WORD_CHAR.test(b) && !UNSPACED_SCRIPT.test(a) && !UNSPACED_SCRIPT.test(b);
}

/** Substring match that does not start or end inside a word ("art" is not found in "start"). */
function containsWord(haystack: string, needle: string): boolean {
  const first = needle[0] ?? '';
  const last = needle[needle.length - 1] ?? '';
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const before = haystack[at - 1] ?? ' ';
    const after = haystack[at + needle.length] ?? ' ';
    if (!joins(before, first) && !joins(last, after)) return true;
  }
  return false;
}
