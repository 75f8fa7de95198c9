/**
 * Reference checks, eval-only — live traffic has no reference — which is why they live here and
 * not in the shared checks library. The reference is a list of strings, or an object whose `path`
 * names one.
 * - `reference-coverage` (recall): the share of expected items that appear in the output.
 * - `reference-precision`: the share of extracted items (the output JSON at `outputPath`) that
 *   are expected — it catches the over-eager extractor that grounding alone would let through.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { CheckInput } from '../checks/index.js';
import { looseText } from '../checks/shared.js';

export const CoverageSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9_]+$' }),
    type: Type.Literal('reference-coverage'),
    path: Type.Optional(Type.String({ description: 'dot path into the reference object holding the expected list' })),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'pass when covered/expected >= this (default 1)' })),
  },
  { additionalProperties: false },
);
export type CoverageSpec = Static<typeof CoverageSpec>;

export const PrecisionSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9_]+$' }),
    type: Type.Literal('reference-precision'),
    path: Type.Optional(Type.String({ description: 'dot path into the reference object holding the expected list' })),
    outputPath: Type.String({ minLength: 1, description: 'dot path into the output JSON holding the extracted list' }),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);
export type PrecisionSpec = Static<typeof PrecisionSpec>;

type Outcome = { result: 'pass' | 'fail' | 'error'; score: number; reason: string };

export function precision(spec: PrecisionSpec, input: CheckInput): Outcome {
  const want = expected(input.reference, spec.path);
  if (want === undefined) return { result: 'error', score: 0, reason: `case has no reference list${spec.path ? ` at "${spec.path}"` : ''}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.output);
  } catch {
    return { result: 'fail', score: 0, reason: 'output is not JSON' };
  }
  const got = expected(parsed, spec.outputPath);
  if (got === undefined) return { result: 'fail', score: 0, reason: `no list of strings at "${spec.outputPath}" in the output` };
  if (got.length === 0) return { result: want.length === 0 ? 'pass' : 'fail', score: want.length === 0 ? 1 : 0, reason: 'nothing extracted' };
  const wanted = want.map(looseText);
  // Containment either way: "Mr Brown" for "Brown" is a boundary slip, not an invented entity.
  const isExpected = (g: string) => {
    const n = looseText(g).replace(/^[\p{P}\s]+|[\p{P}\s]+$/gu, '');
    return n.length >= 2 && wanted.some((w) => n.includes(w) || w.includes(n));
  };
  const extra = got.filter((g) => !isExpected(g));
  const score = (got.length - extra.length) / got.length;
  return {
    result: score >= (spec.minScore ?? 1) - 1e-12 ? 'pass' : 'fail',
    score,
    reason: extra.length === 0 ? `all ${got.length} extracted items expected` : `${extra.length} of ${got.length} not expected: ${extra.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}`,
  };
}

function expected(reference: unknown, path: string | undefined): string[] | undefined {
  let v = reference;
  for (const seg of path ? path.split('.') : []) {
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
  }
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

export function coverage(spec: CoverageSpec, input: CheckInput): Outcome {
  const want = expected(input.reference, spec.path);
  // No reference is a suite problem (a case without one), not the model's fault.
  if (want === undefined) return { result: 'error', score: 0, reason: `case has no reference list${spec.path ? ` at "${spec.path}"` : ''}` };
  if (want.length === 0) return { result: 'pass', score: 1, reason: 'nothing expected' };
  const text = looseText(input.output);
  const missing = want.filter((w) => !text.includes(looseText(w)));
  const score = (want.length - missing.length) / want.length;
  const pass = score >= (spec.minScore ?? 1) - 1e-12;
  return {
    result: pass ? 'pass' : 'fail',
    score,
    reason: missing.length === 0 ? `all ${want.length} expected items present` : `missing ${missing.length} of ${want.length}: ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}`,
  };
}
