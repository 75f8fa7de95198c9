/**
 * The shape of a run's results file (`results.json`). Everything downstream — compare, report,
 * baseline approval, blind-review export — reads this file, never the live gateway.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Difficulty, Split, Suite } from './suite.js';

export type CheckVerdict = 'pass' | 'fail' | 'error' | 'invalid';

export interface CheckRecord {
  name: string;
  type: string;
  /** `gate` or the dimension the check belongs to. */
  role: string;
  result: CheckVerdict;
  /** null for an `invalid` judge answer: it has no score, and must never count as 0. */
  score: number | null;
  reason: string;
  label?: string;
}

export interface CaseScore {
  /** null when the case could not be scored (every check of a dimension was an invalid judgement). */
  quality: number | null;
  passed: boolean | null;
  gateFailures: string[];
  floorFailures: string[];
  dimensions: Record<string, number | null>;
  checks: CheckRecord[];
  invalidJudgements: number;
}

/** One HTTP call to the gateway for a case (several when the retry policy re-asks). */
export interface CallRecord {
  attempt: number;
  status: number | null;
  output: string;
  finishReason: string | null;
  toolCalls: { name: string; arguments: string }[];
  outputTokens: number | null;
  /** Gateway-reported spend for this call including its internal retries; null = unknown or cached. */
  costUsd: number | null;
  /** Wall time of this call; null when the response came from the cache. */
  latencyS: number | null;
  gatewayAttempts: number | null;
  model: string | null;
  requestId: string | null;
  /** The response was replayed from the cache: quality only, no cost or latency. */
  cached: boolean;
  /** Transport or HTTP error, when the call produced no usable answer. */
  error?: string;
}

export interface CaseRun {
  caseId: string;
  variant: string;
  difficulty: Difficulty;
  tags: string[];
  critical: boolean;
  split: Split;
  calls: CallRecord[];
  score: CaseScore;
}

export interface Economics {
  /** Calls measured live in this run (cached replays excluded). */
  liveCalls: number;
  cachedCalls: number;
  /** Live calls of the cases below whose cost is unknown (no cost header): the cost figures are then lower bounds. */
  unpricedCalls: number;
  /** Cases whose every call was live (uncached), priced or not: the basis of every number below. */
  pricedCases: number;
  totalCostUsd: number | null;
  costPerCaseUsd: number | null;
  costPerSuccessUsd: number | null;
  successesPer1000Usd: number | null;
  monthlyVolume: number;
  monthlyCostUsd: number | null;
  retriesPerCase: number;
}

export interface VariantSummary {
  variant: string;
  /** Models that answered (x-bellwether-model): the arm's model, plus any fallback. */
  models: string[];
  cases: number;
  scored: number;
  passed: number;
  passRate: { rate: number; low: number; high: number };
  meanQuality: number | null;
  invalidJudgements: number;
  judgements: number;
  callErrors: number;
  economics: Economics;
  /** Offline latency: gateway round-trip of the calls that answered in this run, not production latency. */
  latency: { label: 'offline'; samples: number; p50S: number | null; p95S: number | null };
}

export interface RunResults {
  schemaVersion: 1;
  runId: string;
  /** `seed` seeds the bootstrap; absent in files written before it was recorded (then 42). */
  suite: { name: string; file: string; passThreshold: number; decision: Suite['decision']; seed?: number };
  split: Split;
  startedAt: string;
  finishedAt: string;
  gatewayUrl: string;
  status: 'complete' | 'incomplete';
  incompleteReasons: string[];
  variants: string[];
  compare?: { champion: string; challenger: string };
  cases: CaseRun[];
  summary: Record<string, VariantSummary>;
}

export function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Accepts a run directory or a results.json path. */
export function readResults(fileOrDir: string): RunResults {
  const file = fileOrDir.endsWith('.json') ? fileOrDir : join(fileOrDir, 'results.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as RunResults;
  if (parsed.schemaVersion !== 1 || !Array.isArray(parsed.cases)) throw new Error(`${file}: not a Bellwether eval results file`);
  return parsed;
}
