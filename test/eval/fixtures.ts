// Builders for synthetic run results, shared by the compare/report/baseline tests.
import type { CallRecord, CaseRun, RunResults } from '../../src/eval/results.js';
import { failedCallScore, summarise } from '../../src/eval/score.js';
import type { Difficulty } from '../../src/eval/suite.js';

export interface CaseSpec {
  id: string;
  champ: boolean;
  chall: boolean;
  difficulty?: Difficulty;
  critical?: boolean;
  tags?: string[];
  champQ?: number;
  challQ?: number;
}

const call = (output: string, cost: number, latency: number): CallRecord => ({
  attempt: 1, status: 200, output, finishReason: 'stop', toolCalls: [], outputTokens: 10, costUsd: cost, latencyS: latency,
  gatewayAttempts: 1, model: 'm', requestId: 'r', cached: false,
});

function caseRun(variant: string, s: CaseSpec, passed: boolean, q: number | undefined, cost: number): CaseRun {
  const quality = q ?? (passed ? 1 : 0.2);
  const score = passed
    ? { quality, passed: true, gateFailures: [], floorFailures: [], dimensions: { d: quality }, checks: [], invalidJudgements: 0 }
    : { ...failedCallScore('x'), quality, checks: [{ name: 'valid_json', type: 'is-json', role: 'gate', result: 'fail' as const, score: 0, reason: 'not valid JSON' }] };
  return {
    caseId: s.id, variant, difficulty: s.difficulty ?? 'easy', tags: s.tags ?? [], critical: s.critical ?? false, split: 'regression',
    calls: [call(`${variant} says ${s.id}`, cost, variant === 'champion' ? 0.5 : 0.2)], score,
  };
}

export function results(specs: CaseSpec[], opts: { runId?: string; variants?: ('champion' | 'challenger')[]; status?: 'complete' | 'incomplete'; minPassRate?: number } = {}): RunResults {
  const variants = opts.variants ?? ['champion', 'challenger'];
  const cases = variants.flatMap((v) =>
    specs.map((s) => (v === 'champion' ? caseRun(v, s, s.champ, s.champQ, 0.002) : caseRun(v, s, s.chall, s.challQ, 0.001))),
  );
  return {
    schemaVersion: 1,
    runId: opts.runId ?? 'run-1',
    suite: {
      name: 'demo', file: 'suite.yaml', passThreshold: 0.7,
      decision: { nonInferiorityMargin: 0.05, alpha: 0.05, ...(opts.minPassRate !== undefined ? { minPassRate: opts.minPassRate } : {}), block: { criticalRegression: true } },
    },
    split: 'regression', startedAt: '', finishedAt: '', gatewayUrl: 'http://x',
    status: opts.status ?? 'complete', incompleteReasons: opts.status === 'incomplete' ? ['too many invalid judge answers'] : [],
    variants, ...(variants.length === 2 ? { compare: { champion: 'champion', challenger: 'challenger' } } : {}),
    cases,
    summary: Object.fromEntries(variants.map((v) => [v, summarise(v, cases.filter((c) => c.variant === v), 1000)])),
  };
}

/** n cases that both pass, plus extras. */
export function many(n: number, extra: CaseSpec[] = []): CaseSpec[] {
  return [...Array.from({ length: n }, (_, i) => ({ id: `same-${i}`, champ: true, chall: true })), ...extra];
}
