/**
 * Champion vs challenger on the same cases: paired statistics, the list of regressions a reviewer
 * must read, breakdowns, economics — and a verdict with its reasons, so the report can lead with it.
 */
import type { CaseRun, CheckRecord, RunResults, VariantSummary } from './results.js';
import { casesToDetect, mcnemarExact, minimumDetectableDifference, nonInferiority, pairedBootstrapCI, pairedDifferenceCI, wilson, type NonInferiority } from './stats.js';
import type { Difficulty, Suite } from './suite.js';

export type Verdict = 'switch' | 'dont-switch' | 'inconclusive';

export interface CaseDiff {
  caseId: string;
  critical: boolean;
  difficulty: Difficulty;
  tags: string[];
  championQuality: number | null;
  challengerQuality: number | null;
  qualityDrop: number;
  championOutput: string;
  challengerOutput: string;
  /** Checks that did not pass for the side that failed. */
  failingChecks: CheckRecord[];
}

export interface BreakdownRow {
  key: string;
  n: number;
  championPassRate: number;
  challengerPassRate: number;
  regressions: number;
  wins: number;
}

export interface Comparison {
  champion: { runId: string; variant: string; summary: VariantSummary };
  challenger: { runId: string; variant: string; summary: VariantSummary };
  paired: number;
  unpaired: string[];
  verdict: Verdict;
  reasons: string[];
  regressions: CaseDiff[];
  wins: CaseDiff[];
  breakdown: { difficulty: BreakdownRow[]; tag: BreakdownRow[] };
  stats: {
    championPassRate: number;
    challengerPassRate: number;
    mcnemar: { championOnly: number; challengerOnly: number; pValue: number };
    passRateDelta: { mean: number; low: number; high: number; level: number };
    /** Over pairs with a quality on both sides; `missing` pairs had none on one side and are left out. */
    qualityDelta: { mean: number; low: number; high: number; level: number; pairs: number; missing: number };
    nonInferiority: NonInferiority;
    margin: number;
    alpha: number;
    minimumDetectableDifference: number;
    discordantRateUpper: number;
  };
}

const DIFFICULTY_RANK: Record<Difficulty, number> = { adversarial: 0, hard: 1, easy: 2 };

/** Critical first, then the hardest, then the biggest quality drop: the order a reviewer should read them. */
export function byImportance(a: CaseDiff, b: CaseDiff): number {
  if (a.critical !== b.critical) return a.critical ? -1 : 1;
  const d = DIFFICULTY_RANK[a.difficulty] - DIFFICULTY_RANK[b.difficulty];
  if (d !== 0) return d;
  if (b.qualityDrop !== a.qualityDrop) return b.qualityDrop - a.qualityDrop;
  return a.caseId.localeCompare(b.caseId);
}

const lastOutput = (r: CaseRun) => {
  const last = r.calls[r.calls.length - 1];
  return last ? (last.error !== undefined ? `[error] ${last.error}` : last.output) : '';
};

function diff(champ: CaseRun, chall: CaseRun, failed: CaseRun): CaseDiff {
  const cq = champ.score.quality;
  const xq = chall.score.quality;
  return {
    caseId: champ.caseId,
    critical: champ.critical,
    difficulty: champ.difficulty,
    tags: champ.tags,
    championQuality: cq,
    challengerQuality: xq,
    qualityDrop: (cq ?? 0) - (xq ?? 0),
    championOutput: lastOutput(champ),
    challengerOutput: lastOutput(chall),
    failingChecks: failed.score.checks.filter((c) => c.result !== 'pass'),
  };
}

interface Pair {
  champ: CaseRun;
  chall: CaseRun;
}

function breakdown(pairs: Pair[], keysOf: (r: CaseRun) => string[]): BreakdownRow[] {
  const groups = new Map<string, Pair[]>();
  for (const p of pairs) for (const k of keysOf(p.champ)) groups.set(k, [...(groups.get(k) ?? []), p]);
  return [...groups.entries()]
    .map(([key, ps]) => ({
      key,
      n: ps.length,
      championPassRate: ps.filter((p) => p.champ.score.passed).length / ps.length,
      challengerPassRate: ps.filter((p) => p.chall.score.passed).length / ps.length,
      regressions: ps.filter((p) => p.champ.score.passed && !p.chall.score.passed).length,
      wins: ps.filter((p) => !p.champ.score.passed && p.chall.score.passed).length,
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const pts = (x: number) => `${(x * 100).toFixed(1)} points`;

export interface CompareInput {
  champion: { results: RunResults; variant: string };
  challenger: { results: RunResults; variant: string };
  decision: Suite['decision'];
  seed?: number;
}

export function compare(input: CompareInput): Comparison {
  const { decision } = input;
  const champRuns = new Map(input.champion.results.cases.filter((c) => c.variant === input.champion.variant).map((c) => [c.caseId, c]));
  const challRuns = new Map(input.challenger.results.cases.filter((c) => c.variant === input.challenger.variant).map((c) => [c.caseId, c]));
  const pairs: Pair[] = [];
  const unpaired: string[] = [];
  for (const [id, champ] of champRuns) {
    const chall = challRuns.get(id);
    // Only cases scored on both sides are paired; an unscored case (invalid judge) says nothing.
    if (chall && champ.score.passed !== null && chall.score.passed !== null) pairs.push({ champ, chall });
    else unpaired.push(id);
  }
  for (const id of challRuns.keys()) if (!champRuns.has(id)) unpaired.push(id);

  const regressions = pairs.filter((p) => p.champ.score.passed && !p.chall.score.passed).map((p) => diff(p.champ, p.chall, p.chall)).sort(byImportance);
  const wins = pairs.filter((p) => !p.champ.score.passed && p.chall.score.passed).map((p) => diff(p.champ, p.chall, p.champ)).sort(byImportance);

  const n = pairs.length;
  const seed = input.seed ?? 42;
  // A missing quality is no measurement, not 0: such pairs are left out of the delta (and counted).
  const qualityDeltas = pairs.flatMap((p) => (p.chall.score.quality !== null && p.champ.score.quality !== null ? [p.chall.score.quality - p.champ.score.quality] : []));
  // One-sided non-inferiority at alpha = two-sided CI at 1 − 2·alpha. A score interval, not the
  // bootstrap: with no discordant pair the bootstrap is [0, 0] whatever n is.
  const niLevel = 1 - 2 * decision.alpha;
  const bothPass = pairs.filter((p) => p.champ.score.passed && p.chall.score.passed).length;
  const passCi = pairedDifferenceCI({ both: bothPass, firstOnly: wins.length, secondOnly: regressions.length, neither: n - bothPass - wins.length - regressions.length }, niLevel);
  const qualityCi = pairedBootstrapCI(qualityDeltas, { seed, level: 0.95 });
  const ni = nonInferiority(passCi, decision.nonInferiorityMargin);
  const mc = mcnemarExact(regressions.length, wins.length);
  // MDD needs the discordant share; take its Wilson upper bound so a lucky sample doesn't flatter it.
  const discordantUpper = n > 0 ? wilson(regressions.length + wins.length, n).high : Number.NaN;
  const mdd = minimumDetectableDifference(n, discordantUpper, decision.alpha, 0.8);
  const champSummary = summaryOf(input.champion.results, input.champion.variant);
  const challSummary = summaryOf(input.challenger.results, input.challenger.variant);
  const championPassRate = n > 0 ? pairs.filter((p) => p.champ.score.passed).length / n : Number.NaN;
  const challengerPassRate = n > 0 ? pairs.filter((p) => p.chall.score.passed).length / n : Number.NaN;

  const blocks: string[] = [];
  const notes: string[] = [];
  // Both sides may be the same run (`eval run --split full`): name it once.
  const incomplete = [...new Set([input.champion.results, input.challenger.results])].filter((r) => r.status !== 'complete');
  for (const r of incomplete) notes.push(`run ${r.runId} is incomplete: ${r.incompleteReasons.join('; ')}`);
  const criticalRegs = regressions.filter((r) => r.critical);
  if (decision.block.criticalRegression && criticalRegs.length > 0) {
    blocks.push(`challenger fails ${criticalRegs.length} critical case(s) the champion passes: ${criticalRegs.map((r) => r.caseId).join(', ')}`);
  }
  if (decision.block.maxRegressions !== undefined && regressions.length > decision.block.maxRegressions) {
    blocks.push(`${regressions.length} regressions, more than the allowed ${decision.block.maxRegressions}`);
  }
  if (decision.minPassRate !== undefined && challengerPassRate < decision.minPassRate) {
    blocks.push(`challenger pass rate ${pct(challengerPassRate)} is below the required ${pct(decision.minPassRate)}`);
  }
  const champCost = champSummary.economics.costPerSuccessUsd;
  const challCost = challSummary.economics.costPerSuccessUsd;
  // Costs with unknown-cost calls are lower bounds: a challenger's lower bound over the limit is proof,
  // a champion's lower bound is not a base to measure a rise from.
  const champCostKnown = champSummary.economics.unpricedCalls === 0;
  if (decision.block.maxCostIncrease !== undefined && champCost !== null && champCostKnown && challCost !== null && challCost > champCost * (1 + decision.block.maxCostIncrease)) {
    // From a free champion any spend is an unbounded rise: say the amounts, not "Infinity %".
    blocks.push(
      champCost === 0
        ? `cost per successful output rises from $0 (champion) to $${challCost.toFixed(5)}; no percentage increase (allowed ${pct(decision.block.maxCostIncrease)}) covers a rise from $0`
        : `cost per successful output rises ${pct(challCost / champCost - 1)} (allowed ${pct(decision.block.maxCostIncrease)})`,
    );
  }
  if (ni === 'inferior') {
    blocks.push(`challenger is worse than the champion by more than the ${pts(decision.nonInferiorityMargin)} margin (pass-rate delta CI ${pts(passCi.low)} to ${pts(passCi.high)})`);
  }

  let verdict: Verdict;
  const reasons: string[] = [];
  if (incomplete.length > 0) {
    verdict = 'inconclusive';
    reasons.push(...notes, ...blocks);
  } else if (blocks.length > 0) {
    verdict = 'dont-switch';
    reasons.push(...blocks);
  } else if (ni === 'non-inferior') {
    verdict = 'switch';
    reasons.push(`challenger is non-inferior at a ${pts(decision.nonInferiorityMargin)} margin (pass-rate delta CI ${pts(passCi.low)} to ${pts(passCi.high)}, ${n} paired cases)`);
    const atLeast = (v: VariantSummary) => (v.economics.unpricedCalls > 0 ? `at least ` : '');
    if (champCost !== null && challCost !== null) reasons.push(`cost per successful output: ${atLeast(challSummary)}$${challCost.toFixed(5)} vs ${atLeast(champSummary)}$${champCost.toFixed(5)}`);
  } else {
    verdict = 'inconclusive';
    reasons.push(`cannot rule out a drop larger than the ${pts(decision.nonInferiorityMargin)} margin (pass-rate delta CI ${pts(passCi.low)} to ${pts(passCi.high)}, ${n} paired cases)`);
    reasons.push(
      Number.isNaN(mdd)
        ? `${n} paired cases are too few to detect any difference reliably; add cases`
        : `with ${n} paired cases only differences of ${pts(mdd)} or more are detected reliably (80 % power); add cases to narrow it`,
    );
    const needed = casesToDetect(decision.nonInferiorityMargin, discordantUpper, decision.alpha, 0.8);
    if (Number.isFinite(needed)) reasons.push(`about ${needed} paired cases would detect a drop of ${pts(decision.nonInferiorityMargin)} (80 % power, at this run's share of discordant cases)`);
  }

  return {
    champion: { runId: input.champion.results.runId, variant: input.champion.variant, summary: champSummary },
    challenger: { runId: input.challenger.results.runId, variant: input.challenger.variant, summary: challSummary },
    paired: n,
    unpaired,
    verdict,
    reasons,
    regressions,
    wins,
    breakdown: {
      difficulty: breakdown(pairs, (r) => [r.difficulty]),
      tag: breakdown(pairs, (r) => (r.critical ? [...r.tags, 'critical'] : r.tags)),
    },
    stats: {
      championPassRate,
      challengerPassRate,
      mcnemar: { championOnly: mc.b, challengerOnly: mc.c, pValue: mc.pValue },
      passRateDelta: { mean: passCi.mean, low: passCi.low, high: passCi.high, level: niLevel },
      qualityDelta: { mean: qualityCi.mean, low: qualityCi.low, high: qualityCi.high, level: 0.95, pairs: qualityDeltas.length, missing: n - qualityDeltas.length },
      nonInferiority: ni,
      margin: decision.nonInferiorityMargin,
      alpha: decision.alpha,
      minimumDetectableDifference: mdd,
      discordantRateUpper: discordantUpper,
    },
  };
}

function summaryOf(results: RunResults, variant: string): VariantSummary {
  const s = results.summary[variant];
  if (!s) throw new Error(`run ${results.runId} has no variant "${variant}" (has: ${results.variants.join(', ')})`);
  return s;
}

/** Which variants of which runs to compare: the suite's champion/challenger, or one variant per run. */
export function pickVariants(a: RunResults, b: RunResults | undefined): { champion: string; challenger: string } {
  if (!b) {
    if (a.compare) return a.compare;
    if (a.variants.length === 2) return { champion: a.variants[0] as string, challenger: a.variants[1] as string };
    throw new Error(`run ${a.runId} has ${a.variants.length} variant(s); name a second run to compare against`);
  }
  const one = (r: RunResults, role: 'champion' | 'challenger'): string => {
    if (r.variants.length === 1) return r.variants[0] as string;
    if (r.compare) return r.compare[role];
    throw new Error(`run ${r.runId} has several variants and no champion/challenger in its suite`);
  };
  return { champion: one(a, 'champion'), challenger: one(b, 'challenger') };
}
