import { Type, type Static } from '@sinclair/typebox';
import { checkSpec, compileRegex, foldCase, oneOrMany, quote, verdict, type Run } from './shared.js';
import type { CheckResult } from './types.js';

const RegexParams = {
  // "" matches every output (regex always passes, not-regex always fails): a config mistake, like an empty needle.
  pattern: Type.String({ minLength: 1, description: 'JavaScript regular expression source' }),
  flags: Type.Optional(Type.String({ description: 'any of i m s u v (g and y are rejected)' })),
};
export const RegexSpec = checkSpec('regex', RegexParams);
export const NotRegexSpec = checkSpec('not-regex', RegexParams);

/** `regex` passes when the pattern matches somewhere in the output; `not-regex` when it matches nowhere. */
export function compileRegexCheck(spec: Static<typeof RegexSpec> | Static<typeof NotRegexSpec>): Run {
  const re = compileRegex(spec.pattern, spec.flags ?? '', 'pattern');
  const wantMatch = spec.type === 'regex';
  return ({ output }) => {
    const match = re.exec(output);
    if (!match) return verdict(!wantMatch, `no match for /${re.source}/${re.flags}`);
    return verdict(wantMatch, `matched ${quote(match[0])} at ${match.index}`);
  };
}

const Needle = Type.String({ minLength: 1 }); // "" is in every string: always a config mistake
const IgnoreCase = Type.Optional(Type.Boolean({ description: 'compare case-insensitively (default false)' }));
const Needles = Type.Array(Needle, { minItems: 1 });

export const ContainsSpec = checkSpec('contains', { value: Needle, ignoreCase: IgnoreCase });
export const IContainsSpec = checkSpec('icontains', { value: Needle });
export const ContainsAllSpec = checkSpec('contains-all', { values: Needles, ignoreCase: IgnoreCase });
export const ContainsAnySpec = checkSpec('contains-any', { values: Needles, ignoreCase: IgnoreCase });
export const NotContainsSpec = checkSpec('not-contains', {
  value: Type.Optional(Needle),
  values: Type.Optional(Needles),
  ignoreCase: IgnoreCase,
});

type ContainsFamilySpec =
  | Static<typeof ContainsSpec>
  | Static<typeof IContainsSpec>
  | Static<typeof ContainsAllSpec>
  | Static<typeof ContainsAnySpec>
  | Static<typeof NotContainsSpec>;

/**
 * One implementation for the whole family: count which needles occur, then judge.
 * Scores are graded where partial credit means something: contains-all = share found,
 * not-contains = share absent; contains / icontains / contains-any are all or nothing.
 */
export function compileContains(spec: ContainsFamilySpec): Run {
  const needles = 'values' in spec || spec.type === 'not-contains' ? oneOrMany(spec, spec.type) : [spec.value];
  const ignoreCase = spec.type === 'icontains' || ('ignoreCase' in spec && spec.ignoreCase === true);
  // Canonically equivalent text (é precomposed or as e + U+0301) is the same text either way.
  const fold = (s: string): string => (ignoreCase ? foldCase(s) : s.normalize('NFC'));
  const folded = needles.map(fold);
  return ({ output }) => {
    const haystack = fold(output);
    const found = needles.filter((_, i) => haystack.includes(folded[i] as string));
    const missing = needles.filter((n) => !found.includes(n));
    return judgeContains(spec.type, needles.length, found, missing);
  };
}

function judgeContains(type: ContainsFamilySpec['type'], total: number, found: string[], missing: string[]): CheckResult {
  const list = (xs: string[]): string => xs.map((x) => quote(x)).join(', ');
  switch (type) {
    case 'not-contains':
      return {
        pass: found.length === 0,
        score: missing.length / total,
        reason: found.length === 0 ? 'none of the forbidden strings found' : `found forbidden ${list(found)}`,
      };
    case 'contains-any':
      return verdict(found.length > 0, found.length > 0 ? `found ${list(found)}` : `none of ${list(missing)} found`);
    default:
      return {
        pass: missing.length === 0,
        score: found.length / total,
        reason: missing.length === 0 ? `found ${list(found)}` : `missing ${list(missing)}`,
      };
  }
}

const Max = Type.Integer({ minimum: 0 });
export const MaxLengthSpec = checkSpec('max-length', { max: Max });
export const MaxTokensSpec = checkSpec('max-tokens', { max: Max });

/** Length in Unicode code points, so an emoji or CJK character counts once (not as UTF-16 units). */
export function compileMaxLength(spec: Static<typeof MaxLengthSpec>): Run {
  return ({ output }) => {
    const length = [...output].length;
    return verdict(length <= spec.max, `${length} characters (max ${spec.max})`);
  };
}

/**
 * Uses the provider's reported output tokens. Without them it counts whitespace-separated words,
 * which usually *under*-counts BPE tokens (~1.3 tokens per English word) — the reason says so.
 */
export function compileMaxTokens(spec: Static<typeof MaxTokensSpec>): Run {
  return ({ output, usage }) => {
    const reported = usage?.outputTokens;
    if (typeof reported === 'number' && Number.isFinite(reported)) {
      return verdict(reported <= spec.max, `${reported} output tokens (max ${spec.max})`);
    }
    const estimate = estimateTokens(output);
    return verdict(estimate <= spec.max, `~${estimate} tokens estimated by whitespace split, no usage reported (max ${spec.max})`);
  };
}

// Scripts written without spaces: a whole paragraph is one "word" there, while BPE spends about a
// token per character, so each character counts as a word.
const UNSPACED_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/gu;

function estimateTokens(text: string): number {
  return text.replace(UNSPACED_CHAR, ' $& ').split(/\s+/u).filter(Boolean).length;
}
