/**
 * Replays cases through the gateway over HTTP — so the production prompt, routing and accounting
 * are what gets measured — scores the answers and writes `results.json` into the run directory.
 * Bounded concurrency; a response cache that makes re-scoring free and runs resumable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { evaluate, type CheckInput } from '../checks/index.js';
import { cacheKey, ResponseCache } from './cache.js';
import { chatAnswer, postChat, type ChatCallResult } from './http.js';
import type { ServingIdentity } from './serving.js';
import { judgeRequest, parseJudgement } from './judge.js';
import type { CallRecord, CaseRun, RunResults } from './results.js';
import { writeJson } from './results.js';
import { buildScorer, failedCallScore, judgeChecks, scoreCase, summarise, type JudgeOutcome, type Scorer } from './score.js';
import type { EvalCase, Split, Suite, VariantTarget } from './suite.js';
import { displayUrl } from '../admin/client.js';

export interface RunOptions {
  suite: Suite;
  cases: EvalCase[];
  split: Split;
  url: string;
  outDir: string;
  /** Restrict to these variant names (default: all in the suite). */
  variants?: string[];
  /** false = always call the models (fresh economics); true = replay earlier answers when present. */
  useCache?: boolean;
  apiKey?: string;
  progress?: boolean;
  concurrency?: number;
  /** Which model serves each target (serving.ts). Without it, or when it can't tell, answers are never replayed. */
  serving?: ServingIdentity;
}

interface RunState {
  runId: string;
  status: 'running' | 'done';
  suite: string;
  split: Split;
}

function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(2).toString('hex')}`;
}

/** Resume an interrupted run of the same suite and split; otherwise start a new one. */
function openRun(outDir: string, suite: string, split: Split): RunState {
  const file = join(outDir, 'state.json');
  if (existsSync(file)) {
    try {
      const s = JSON.parse(readFileSync(file, 'utf8')) as RunState;
      if (s.status === 'running' && s.suite === suite && s.split === split) return s;
    } catch {
      // unreadable state: start afresh
    }
  }
  const state: RunState = { runId: newRunId(new Date()), status: 'running', suite, split };
  writeJson(file, state);
  return state;
}

const num = (h: string | undefined): number | null => {
  if (h === undefined || h === '' || h === 'unknown') return null;
  const n = Number(h);
  return Number.isFinite(n) ? n : null;
};

function callRecord(r: ChatCallResult, attempt: number, cached: boolean): CallRecord {
  const a = chatAnswer(r.body);
  return {
    attempt,
    status: r.status,
    output: a.content,
    finishReason: a.finishReason,
    toolCalls: a.toolCalls,
    outputTokens: a.outputTokens,
    costUsd: cached ? null : num(r.headers['x-bellwether-cost-usd']),
    latencyS: cached ? null : r.latencyS,
    gatewayAttempts: num(r.headers['x-bellwether-attempts']),
    model: r.headers['x-bellwether-model'] ?? null,
    requestId: r.headers['x-bellwether-request-id'] ?? null,
    cached,
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

function checkInput(c: EvalCase, call: CallRecord): CheckInput {
  return {
    output: call.output,
    finishReason: call.finishReason,
    toolCalls: call.toolCalls,
    usage: call.outputTokens === null ? {} : { outputTokens: call.outputTokens },
    sources: c.sources,
    ...(c.reference !== undefined ? { reference: c.reference } : {}),
  };
}

export function requestBody(target: VariantTarget, c: EvalCase): Record<string, unknown> {
  return {
    ...c.request.params,
    model: target.model,
    messages: c.request.messages,
    ...(c.request.tools ? { tools: c.request.tools } : {}),
    ...(c.request.response_format !== undefined ? { response_format: c.request.response_format } : {}),
    // Non-streaming so the gateway reports the cost header; the eval measures quality, not TTFT.
    stream: false,
  };
}

class Caller {
  transportErrors = 0;
  constructor(
    private readonly cache: ResponseCache,
    private readonly runId: string,
    private readonly opts: { url: string; apiKey?: string; timeoutMs: number; useCache: boolean; serving?: ServingIdentity },
  ) {}

  /** One call, through the cache. `live` is false when the answer is a replay from an earlier run. */
  async call(target: { model: string; forceVariant?: 'champion' | 'challenger' }, body: Record<string, unknown>, attempt: number): Promise<{ result: ChatCallResult; live: boolean }> {
    // The key names the model that serves the target, so another model never replays this one's answers.
    const serving = this.opts.serving?.(target);
    const key = serving === undefined ? undefined : cacheKey({ ...target, serving }, body, attempt);
    const hit = this.opts.useCache && key !== undefined ? this.cache.get(key) : undefined;
    if (hit) return { result: hit.result, live: hit.runId === this.runId };
    const result = await postChat({
      url: this.opts.url,
      body,
      timeoutMs: this.opts.timeoutMs,
      ...(target.forceVariant ? { forceVariant: target.forceVariant } : {}),
      ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}),
    });
    // Only an unreachable gateway makes the run incomplete; a timeout fails the case like a 504 would.
    if (result.status === null && !result.timedOut) this.transportErrors++;
    if (key !== undefined) this.cache.put({ key, runId: this.runId, at: new Date().toISOString(), result });
    return { result, live: true };
  }
}

async function judge(caller: Caller, suite: Suite, scorer: Scorer, c: EvalCase, call: CallRecord): Promise<Map<string, JudgeOutcome>> {
  const out = new Map<string, JudgeOutcome>();
  const judgeCfg = suite.judge;
  if (!judgeCfg) return out;
  const target = { model: judgeCfg.model, ...(judgeCfg.forceVariant ? { forceVariant: judgeCfg.forceVariant } : {}) };
  for (const spec of judgeChecks(scorer)) {
    const body = judgeRequest(spec, { output: call.output, task: c.sources.input ?? '', sources: c.sources, reference: c.reference }, judgeCfg.model);
    const { result } = await caller.call(target, body, 1);
    if (result.error !== undefined) out.set(spec.name, { result: 'invalid', score: null, reason: `judge call failed: ${result.error}` });
    else out.set(spec.name, parseJudgement(spec, chatAnswer(result.body).content));
  }
  return out;
}

async function runCase(caller: Caller, suite: Suite, scorer: Scorer, target: VariantTarget, c: EvalCase): Promise<CaseRun> {
  const body = requestBody(target, c);
  const { maxAttempts, on } = suite.economics.retry;
  const calls: CallRecord[] = [];
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { result, live } = await caller.call(target, body, attempt);
    const rec = callRecord(result, attempt, !live);
    calls.push(rec);
    if (rec.error !== undefined) continue;
    // The application would re-ask when the answer is unusable: model that spend, it is real.
    if (on === 'gate-failure' && scorer.gates.some((g) => evaluate(g, checkInput(c, rec)).result !== 'pass')) continue;
    break;
  }
  const final = calls[calls.length - 1] as CallRecord;
  let score;
  if (final.error !== undefined) score = failedCallScore(final.error);
  else {
    const input = checkInput(c, final);
    const gatesPass = scorer.gates.every((g) => evaluate(g, input).result === 'pass');
    // A failed gate forces quality 0 anyway; don't pay a judge to grade it.
    const judged = gatesPass ? await judge(caller, suite, scorer, c, final) : new Map<string, JudgeOutcome>();
    score = scoreCase(scorer, input, judged);
  }
  return { caseId: c.id, variant: target.name, difficulty: c.difficulty, tags: c.tags, critical: c.critical, split: c.split, calls, score };
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export async function runEval(opts: RunOptions): Promise<RunResults> {
  const { suite } = opts;
  const targets = opts.variants ? suite.variants.filter((v) => opts.variants?.includes(v.name)) : suite.variants;
  const state = openRun(opts.outDir, suite.name, opts.split);
  const startedAt = new Date().toISOString();
  const caller = new Caller(new ResponseCache(join(opts.outDir, 'cache.jsonl')), state.runId, {
    url: opts.url,
    timeoutMs: suite.run.timeoutMs,
    useCache: opts.useCache ?? true,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.serving ? { serving: opts.serving } : {}),
  });
  const scorer = buildScorer(suite);
  const tasks = targets.flatMap((t) => opts.cases.map((c) => ({ t, c })));
  const showBar = (opts.progress ?? true) && process.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar({ format: `eval ${suite.name} [{bar}] {value}/{total} cases·variants | {eta_formatted} left`, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(tasks.length, 0);
  const runs: CaseRun[] = [];
  try {
    await pool(tasks, opts.concurrency ?? suite.run.concurrency, async ({ t, c }) => {
      runs.push(await runCase(caller, suite, scorer, t, c));
      bar?.increment();
    });
  } finally {
    bar?.stop();
  }
  // Stable order for diffs and reports, whatever order the workers finished in.
  const order = new Map(opts.cases.map((c, i) => [c.id, i]));
  runs.sort((a, b) => targets.findIndex((t) => t.name === a.variant) - targets.findIndex((t) => t.name === b.variant) || (order.get(a.caseId) ?? 0) - (order.get(b.caseId) ?? 0));

  const summary = Object.fromEntries(targets.map((t) => [t.name, summarise(t.name, runs.filter((r) => r.variant === t.name), suite.economics.monthlyVolume)]));
  const incompleteReasons: string[] = [];
  if (caller.transportErrors > 0) incompleteReasons.push(`${caller.transportErrors} call(s) could not reach the gateway at ${displayUrl(opts.url)}`);
  for (const s of Object.values(summary)) {
    if (s.judgements > 0 && s.invalidJudgements / s.judgements > (suite.judge?.maxInvalidFraction ?? 0)) {
      incompleteReasons.push(`${s.variant}: ${s.invalidJudgements} of ${s.judgements} judge answers invalid (allowed ${((suite.judge?.maxInvalidFraction ?? 0) * 100).toFixed(0)} %)`);
    }
    if (s.cases > 0 && s.callErrors === s.cases) incompleteReasons.push(`${s.variant}: every call failed — check the route, variant and credentials`);
    if (s.cases === 0) incompleteReasons.push(`${s.variant}: no cases in split "${opts.split}"`);
  }
  const results: RunResults = {
    schemaVersion: 1,
    runId: state.runId,
    suite: { name: suite.name, file: suite.file, passThreshold: suite.passThreshold, decision: suite.decision, seed: suite.run.seed },
    split: opts.split,
    startedAt,
    finishedAt: new Date().toISOString(),
    // Kept in results.json and shown in reports: never with credentials from --url.
    gatewayUrl: displayUrl(opts.url),
    status: incompleteReasons.length > 0 ? 'incomplete' : 'complete',
    incompleteReasons,
    variants: targets.map((t) => t.name),
    ...(suite.compare && targets.some((t) => t.name === suite.compare?.champion) && targets.some((t) => t.name === suite.compare?.challenger) ? { compare: suite.compare } : {}),
    cases: runs,
    summary,
  };
  writeJson(join(opts.outDir, 'results.json'), results);
  writeJson(join(opts.outDir, 'runs', `${state.runId}.json`), results);
  // A run that could not reach the gateway stays "running" so the next invocation resumes it.
  if (caller.transportErrors === 0) writeJson(join(opts.outDir, 'state.json'), { ...state, status: 'done' });
  return results;
}
