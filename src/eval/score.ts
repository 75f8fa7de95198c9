/**
 * From check outcomes to a case verdict, and from case verdicts to a variant summary.
 * Quality = Σ weight × dimension score (dimension = mean of its check scores); a failed gate forces
 * quality 0; a dimension under its floor fails the case whatever the total. Pass and score are
 * different things: a case passes when it clears the gates, the floors and the threshold.
 */
import { compileCheck, evaluate, validateCheckSpec, type CheckInput, type CompiledCheck } from '../checks/index.js';
import type { CaseRun, CaseScore, CheckRecord, CheckVerdict, Economics, VariantSummary } from './results.js';
import { coverage, precision, type CoverageSpec, type PrecisionSpec } from './coverage.js';
import { mean, percentile, wilson } from './stats.js';
import type { CheckEntry, CheckValidator, JudgeCheckSpec, Suite } from './suite.js';

/** Suite-load validator for everything that is not a judge check: the checks library decides. */
export const validateWithChecksLibrary: CheckValidator = (spec) => {
  try {
    compileCheck(validateCheckSpec(spec));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
};

export type ScoredCheck =
  | { kind: 'check'; compiled: CompiledCheck }
  | { kind: 'coverage'; spec: CoverageSpec }
  | { kind: 'precision'; spec: PrecisionSpec }
  | { kind: 'judge'; spec: JudgeCheckSpec };

export interface Scorer {
  gates: CompiledCheck[];
  dimensions: { name: string; weight: number; floor?: number; checks: ScoredCheck[] }[];
  passThreshold: number;
}

/** The outcome of a judge check, decided by the runner (it needs HTTP) before scoring. */
export interface JudgeOutcome {
  result: 'pass' | 'fail' | 'invalid';
  score: number | null;
  reason: string;
  label?: string;
}

function compileEntry(entry: CheckEntry): ScoredCheck {
  if (entry.type === 'llm-rubric') return { kind: 'judge', spec: entry as JudgeCheckSpec };
  if (entry.type === 'reference-coverage') return { kind: 'coverage', spec: entry as CoverageSpec };
  if (entry.type === 'reference-precision') return { kind: 'precision', spec: entry as PrecisionSpec };
  return { kind: 'check', compiled: compileCheck(validateCheckSpec(entry)) };
}

/** Compile once per run; the suite was validated at load, so this does not fail. */
export function buildScorer(suite: Suite): Scorer {
  return {
    gates: suite.gates.map((g) => compileCheck(validateCheckSpec(g))),
    dimensions: suite.dimensions.map((d) => ({
      name: d.name,
      weight: d.weight,
      ...(d.floor !== undefined ? { floor: d.floor } : {}),
      checks: d.checks.map(compileEntry),
    })),
    passThreshold: suite.passThreshold,
  };
}

export function judgeChecks(scorer: Scorer): JudgeCheckSpec[] {
  return scorer.dimensions.flatMap((d) => d.checks.flatMap((c) => (c.kind === 'judge' ? [c.spec] : [])));
}

/** A call that produced no answer fails the case: the user would have got nothing. */
export function failedCallScore(reason: string): CaseScore {
  return {
    quality: 0,
    passed: false,
    gateFailures: ['call'],
    floorFailures: [],
    dimensions: {},
    checks: [{ name: 'call', type: 'call', role: 'gate', result: 'fail', score: 0, reason }],
    invalidJudgements: 0,
  };
}

export function scoreCase(scorer: Scorer, input: CheckInput, judged: ReadonlyMap<string, JudgeOutcome>): CaseScore {
  const checks: CheckRecord[] = [];
  const gateFailures: string[] = [];
  for (const gate of scorer.gates) {
    const o = evaluate(gate, input);
    checks.push({ name: gate.name, type: gate.type, role: 'gate', result: o.result, score: o.score, reason: o.reason });
    if (o.result !== 'pass') gateFailures.push(gate.name);
  }
  const dimensions: Record<string, number | null> = {};
  const floorFailures: string[] = [];
  let invalidJudgements = 0;
  let quality: number | null = 0;
  for (const dim of scorer.dimensions) {
    const scores: number[] = [];
    for (const c of dim.checks) {
      let rec: CheckRecord;
      if (c.kind === 'check') {
        const o = evaluate(c.compiled, input);
        rec = { name: c.compiled.name, type: c.compiled.type, role: dim.name, result: o.result, score: o.score, reason: o.reason };
      } else if (c.kind === 'coverage' || c.kind === 'precision') {
        const o = c.kind === 'coverage' ? coverage(c.spec, input) : precision(c.spec, input);
        rec = { name: c.spec.name, type: c.spec.type, role: dim.name, result: o.result, score: o.score, reason: o.reason };
      } else {
        // A failed gate already decides the case and the runner does not pay a judge to grade it:
        // no judgement was made, so none is invalid (that would make a regression look incomplete).
        if (gateFailures.length > 0 && !judged.has(c.spec.name)) continue;
        const j = judged.get(c.spec.name) ?? { result: 'invalid', score: null, reason: 'judge was not asked' };
        rec = {
          name: c.spec.name, type: 'llm-rubric', role: dim.name, result: j.result as CheckVerdict, score: j.score, reason: j.reason,
          ...(j.label !== undefined ? { label: j.label } : {}),
        };
        if (j.result === 'invalid') invalidJudgements++;
      }
      checks.push(rec);
      if (rec.score !== null) scores.push(rec.score);
    }
    // Invalid judgements are left out of the mean; a dimension with nothing left has no score.
    const score = scores.length > 0 ? mean(scores) : null;
    dimensions[dim.name] = score;
    if (score === null) quality = null;
    else {
      if (quality !== null) quality += dim.weight * score;
      if (dim.floor !== undefined && score < dim.floor) floorFailures.push(dim.name);
    }
  }
  if (gateFailures.length > 0) quality = 0;
  const passed =
    gateFailures.length > 0 || floorFailures.length > 0
      ? false
      : quality === null
        ? null
        : quality >= scorer.passThreshold - 1e-12;
  return { quality, passed, gateFailures, floorFailures, dimensions, checks, invalidJudgements };
}

/**
 * Cost per successful output counts every call a case needed (retries and failed attempts
 * included) against the cases that passed. The basis is every case measured live: cached replays
 * have no cost. A call whose cost is unknown (the gateway sends no cost header on an error, or the
 * model is unpriced) is never taken as 0 and never drops its case: it is counted in
 * `unpricedCalls`, and the known spend is then a lower bound (cost figures read "at least").
 * With no known cost at all, the figures are unknown (null).
 */
export function economics(runs: readonly CaseRun[], monthlyVolume: number): Economics {
  const calls = runs.flatMap((r) => r.calls);
  const live = runs.filter((r) => r.calls.length > 0 && r.calls.every((c) => !c.cached));
  const liveCalls = live.flatMap((r) => r.calls);
  const known = liveCalls.filter((c) => c.costUsd !== null);
  const total = known.reduce((s, c) => s + (c.costUsd ?? 0), 0);
  const successes = live.filter((r) => r.score.passed === true).length;
  const n = live.length;
  const priced = n > 0 && known.length > 0;
  const costPerCase = priced ? total / n : null;
  return {
    liveCalls: calls.filter((c) => !c.cached).length,
    cachedCalls: calls.filter((c) => c.cached).length,
    unpricedCalls: liveCalls.length - known.length,
    pricedCases: n,
    totalCostUsd: priced ? total : null,
    costPerCaseUsd: costPerCase,
    costPerSuccessUsd: priced && successes > 0 ? total / successes : null,
    successesPer1000Usd: priced && total > 0 ? (successes / total) * 1000 : null,
    monthlyVolume,
    monthlyCostUsd: costPerCase === null ? null : costPerCase * monthlyVolume,
    retriesPerCase: runs.length > 0 ? calls.length / runs.length - 1 : 0,
  };
}

export function summarise(variant: string, runs: readonly CaseRun[], monthlyVolume: number): VariantSummary {
  const scored = runs.filter((r) => r.score.passed !== null);
  const passed = scored.filter((r) => r.score.passed === true).length;
  const w = wilson(passed, scored.length);
  const qualities = scored.flatMap((r) => (r.score.quality === null ? [] : [r.score.quality]));
  // Latency of answers only: an error that comes back in 10 ms must not make a failing model look
  // fast (errors are counted in callErrors instead).
  const latencies = runs.flatMap((r) => r.calls.flatMap((c) => (c.latencyS === null || c.error !== undefined ? [] : [c.latencyS])));
  const judgements = runs.reduce((s, r) => s + r.score.checks.filter((c) => c.type === 'llm-rubric').length, 0);
  const models = [...new Set(runs.flatMap((r) => r.calls.flatMap((c) => (c.model ? [c.model] : []))))].sort();
  return {
    variant,
    models,
    cases: runs.length,
    scored: scored.length,
    passed,
    passRate: { rate: w.rate, low: w.low, high: w.high },
    meanQuality: qualities.length > 0 ? mean(qualities) : null,
    invalidJudgements: runs.reduce((s, r) => s + r.score.invalidJudgements, 0),
    judgements,
    callErrors: runs.filter((r) => r.calls.some((c) => c.error !== undefined)).length,
    economics: economics(runs, monthlyVolume),
    latency: {
      label: 'offline',
      samples: latencies.length,
      p50S: latencies.length > 0 ? percentile(latencies, 50) : null,
      p95S: latencies.length > 0 ? percentile(latencies, 95) : null,
    },
  };
}
