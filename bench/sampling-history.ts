// `npm run bench:sampling` keeps every run: on a 2-core machine one run's cost scatters by ~3 points
// (52 runs, bench/README.md), so a single run rarely tells a cost of 7 % from one of 10 %. Each
// workload's rounds are appended to a history file, and each run ends with the runs of the same code
// pooled: their mean cost and its 95 % interval, which narrows as runs accumulate.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mean as meanOf, normalQuantile } from '../src/eval/stats.js';

export interface SamplingRun {
  at: string;
  /** The code measured (`codeRevision`): runs are pooled by it. */
  revision: string;
  /** The commit checked out, for people reading the file. */
  commit: string | undefined;
  node: string;
  workload: 'same prompt' | 'unique prompts';
  seconds: number;
  /** Each round's req/s with sampling off and at rate 1, in the order they ran. */
  rounds: { off: number; on: number }[];
  /** 1 − mean(on) / mean(off), as the run printed it. */
  cost: number;
  /** Samples dropped: a cost bought by dropping samples is not pooled. */
  dropped: number;
}

export interface PooledCost {
  runs: number;
  nodes: string[];
  /** Mean of the runs' costs, and its 95 % interval (Student's t over the runs); NaN bounds below two runs. */
  mean: number;
  low: number;
  high: number;
}

export function appendRun(file: string, run: SamplingRun): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(run)}\n`);
}

/** The recorded runs; a line that does not parse (a run killed mid-write) is left out. */
export function readRuns(file: string): SamplingRun[] {
  if (!existsSync(file)) return [];
  const runs: SamplingRun[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      runs.push(JSON.parse(line) as SamplingRun);
    } catch {
      // skipped: see above
    }
  }
  return runs;
}

/**
 * The runs like `run` — the same code, workload, rounds and round length (a quick check with short
 * rounds does not pool with full runs) — that dropped no sample, pooled.
 */
export function pool(runs: readonly SamplingRun[], run: SamplingRun): PooledCost {
  const same = runs.filter(
    (r) => r.revision === run.revision && r.workload === run.workload && r.seconds === run.seconds && r.rounds.length === run.rounds.length && r.dropped === 0,
  );
  const costs = same.map((r) => r.cost);
  const { mean, low, high } = meanInterval(costs);
  return { runs: costs.length, nodes: [...new Set(same.map((r) => r.node))].sort(), mean, low, high };
}

/** Mean and two-sided 95 % interval by Student's t: for a handful of runs, where a bootstrap's interval is too narrow. */
export function meanInterval(values: readonly number[]): { mean: number; low: number; high: number } {
  const n = values.length;
  const mean = meanOf(values);
  if (n < 2) return { mean, low: NaN, high: NaN };
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1);
  const half = studentT975(n - 1) * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half };
}

/**
 * The 97.5th percentile of Student's t with `df` degrees of freedom: the standard table (to three
 * decimals) up to 30, then the first term of its expansion around the normal's 1.960,
 * z + (z³ + z) / 4df — within 0.2 % of the exact value from 31 on (2.037 for 2.040 at 31).
 */
export function studentT975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  return T975[df - 1] ?? Z975 + (Z975 ** 3 + Z975) / (4 * df);
}

const Z975 = normalQuantile(0.975);
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08,
  2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** One line on where the pooled runs put the cost against `limit` (a fraction). */
export function describePooled(p: PooledCost, limit: number): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  if (p.runs === 0) return 'no run of this code without dropped samples yet: nothing to pool';
  if (p.runs === 1) return '1 run of this code so far: nothing to pool yet';
  const verdict = p.high < limit ? `PASS: the interval lies under ${pct(limit)}` : p.low >= limit ? `FAIL: the interval lies over ${pct(limit)}` : `not decided: ${pct(limit)} lies inside the interval`;
  return `pooled over ${p.runs} runs of this code (${p.nodes.join(', ')}): mean ${pct(p.mean)}, 95 % interval ${pct(p.low)} … ${pct(p.high)} (${verdict})`;
}
