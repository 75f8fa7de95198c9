// `npm run bench:sampling`: what sampling at 100 % costs in throughput. Two gateways in their own
// processes, with the same generated config, take turns sampling at rate 1: each round one of them is
// reloaded with `sampling: { rate: 1 }` and the other without it, so whatever makes one process a
// little faster than the other (where its heap and code landed, its start order) counts for both
// arms alike instead of for one of them for the whole run. The arms are measured alternately, in
// ABBA order (off, on, on, off, …), so drifting machine speed hits both alike, in many short rounds;
// each round is a closed loop of 64 connections. Two workloads: the same prompt every time (most
// records deduplicated) and a unique prompt per request (every record redacted, hashed and
// written). Reported: mean req/s per arm and the relative cost, and the CPU per sample that
// sampling adds outside the request thread (the worker's cost).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { gatewayConfig, ROUTES, upstreamSpecs, upstreamUrls, writeConfig } from './gateway-config.js';
import { startChild, type Child } from './processes.js';
import { GATEWAY_NODE_FLAGS } from '../src/runtime-flags.js';
import { CpuMeter } from './cpu.js';
import { pairedBootstrapCI } from '../src/eval/stats.js';
import { appendRun, describePooled, pool, readRuns } from './sampling-history.js';
import { codeRevision, gitCommit } from './revision.js';

// 10 rounds: single 5 s rounds swing by ±15 % on a 2-core box, and with 6 a run's verdict was
// decided by one or two of them (10 runs of 6 rounds, 2026-11-26/27: costs 3.8 … 13.6 %, mean 7.2 %).
// Variables of its own: `npm run bench` reads BENCH_ROUNDS as its rounds (default 4), and one
// exported variable used to set both.
const ROUNDS = fromEnv('BENCH_SAMPLING_ROUNDS', 10, 'integer');
const SECONDS = fromEnv('BENCH_SAMPLING_SECONDS', 5, 'number');
const CONNECTIONS = 64;
/** Every run's rounds, pooled per revision at the end of each run (bench/sampling-history.ts). */
const HISTORY = process.env.BENCH_SAMPLING_HISTORY || 'bench/results/sampling-runs.jsonl';
const LIMIT = 0.1;
const revision = codeRevision();

function fromEnv(name: string, fallback: number, kind: 'integer' | 'number'): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!(kind === 'integer' ? Number.isInteger(value) : Number.isFinite(value)) || value <= 0) {
    console.error(`${name} must be a positive ${kind}, got "${text}"`);
    process.exit(2);
  }
  return value;
}

/** `bellwether_samples_total` by result, summed over routes and variants, from the gateway's /metrics. */
async function sampleCounts(origin: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^bellwether_samples_total\{[^}]*result="([a-z]+)"[^}]*\} (\S+)$/gm)) {
    const [, result = '', value = '0'] = match;
    counts[result] = (counts[result] ?? 0) + Number(value);
  }
  return counts;
}

async function closedLoop(origin: string, seconds: number, unique: boolean): Promise<number> {
  const pool = new Pool(origin, { connections: CONNECTIONS });
  const end = Date.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, worker) => {
      for (let i = 0; Date.now() < end; i++) {
        const content = unique ? `Summarise the ticket ${worker}-${i}-${Math.random()} for Acme Corp` : 'Summarise the ticket for Acme Corp';
        const res = await pool.request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: ROUTES.fast, messages: [{ role: 'user', content }] }),
        });
        await res.body.text();
        if (res.statusCode === 200) done++;
      }
    }),
  );
  await pool.close();
  return done / seconds;
}

const work = mkdtempSync(join(tmpdir(), 'bellwether-sampling-ab-'));
const children: Child[] = [];
try {
  const upstream = await startChild({
    name: 'fake upstream',
    module: 'upstream-child.js',
    args: [JSON.stringify(upstreamSpecs())],
  });
  children.push(upstream);
  const upstreams = upstreamUrls(upstream.urls);
  /** A gateway's config file with sampling at rate 1 or off: the only difference between the arms. */
  const writeRole = (label: string, on: boolean): string => {
    const file = join(work, `${label}.yaml`);
    writeConfig(file, gatewayConfig({ upstreams, slowConnections: 64, samplingRate: on ? 1 : undefined, datasetsDir: join(work, `${label}-datasets`), fragments: [] }));
    return file;
  };
  // Both start sampling, so both have a sampling worker; each round one of them is reloaded with it off.
  const start = async (label: string): Promise<Child> => {
    const child = await startChild({ name: label, module: 'gateway-child.js', args: [writeRole(label, true)], execArgv: [...GATEWAY_NODE_FLAGS], stdout: 'ignore' });
    children.push(child);
    return child;
  };
  const gateways = [
    { label: 'gateway-1', child: await start('gateway-1') },
    { label: 'gateway-2', child: await start('gateway-2') },
  ] as const;
  const [first, second] = gateways;
  const meter = new CpuMeter(Object.fromEntries(gateways.flatMap(({ label, child }) => [[label, child.pid], [`${label}-main`, { pid: child.pid, tid: child.pid }]])));
  /** Which gateway samples in a round: they take turns, so neither process's own speed counts for or against sampling. */
  const roles = (round: number) => (round % 2 === 0 ? { on: first, off: second } : { on: second, off: first });
  const assign = async (round: number): Promise<void> => {
    const { on, off } = roles(round);
    writeRole(on.label, true);
    writeRole(off.label, false);
    await Promise.all([on.child.reload(), off.child.reload()]);
  };

  console.log(
    `sampling A/B: ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections; gateways pid ${first.child.pid} and ${second.child.pid} ` +
      'take turns sampling at rate 1 (a config reload each round), measured alternately (ABBA)',
  );
  for (const unique of [false, true]) {
    const workload = unique ? ('unique prompts' as const) : ('same prompt' as const);
    // Warm-up, each gateway in both roles, in two runs on their own connections as in `npm run bench`:
    // V8 deoptimises much of the HTTP path the first time a process's connections close, and the
    // next second runs slowly.
    for (const round of [0, 1]) {
      await assign(round);
      for (const { child } of gateways) for (let i = 0; i < 2; i++) await closedLoop(child.urls.gateway ?? '', 1, unique);
    }
    const totals = async () => {
      const counts = await Promise.all(gateways.map(({ child }) => sampleCounts(child.urls.gateway ?? '')));
      const sum: Record<string, number> = {};
      for (const c of counts) for (const [result, n] of Object.entries(c)) sum[result] = (sum[result] ?? 0) + n;
      return sum;
    };
    const samplesBefore = await totals();
    const rates = { off: [] as number[], on: [] as number[] };
    const cpuMs = { off: 0, on: 0, 'off-main': 0, 'on-main': 0 };
    for (let round = 0; round < ROUNDS; round++) {
      await assign(round);
      // A reload opens new upstream connections; the gateway that stopped sampling may still be
      // writing its last batch. One unmeasured second each, for both alike.
      for (const { child } of gateways) await closedLoop(child.urls.gateway ?? '', 1, unique);
      const { on, off } = roles(round);
      // ABBA over pairs of rounds: off first, on first, on first, off first, …
      const order = [0, 3].includes(round % 4) ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const arm of order) {
        const { label, child } = arm === 'on' ? on : off;
        const before = meter.snapshot();
        rates[arm].push(await closedLoop(child.urls.gateway ?? '', SECONDS, unique));
        const used = meter.since(before).processMs;
        cpuMs[arm] += used[label] ?? 0;
        cpuMs[`${arm}-main`] += used[`${label}-main`] ?? 0;
      }
    }
    // Let the worker finish what it was handed before counting what became of it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const samplesAfter = await totals();
    const samples = (result: string) => (samplesAfter[result] ?? 0) - (samplesBefore[result] ?? 0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const cost = 1 - mean(rates.on) / mean(rates.off);
    // Each round's own cost (its two runs were adjacent in time): the spread says how far to trust the mean.
    const roundCosts = rates.on.map((r, i) => 1 - r / (rates.off[i] ?? r)).sort((a, b) => a - b);
    // On a 2-core box a single round's cost scatters by ~9 points (52 runs, bench/README.md): a run's
    // interval says whether it alone can tell the cost from the 10 % line.
    const interval = pairedBootstrapCI(roundCosts);
    const undecided = interval.low < LIMIT && interval.high >= LIMIT;
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    const signed = (n: number) => (n < 0 ? `${n}` : `+${n}`);
    const perReq = (key: keyof typeof cpuMs) => Math.round((cpuMs[key] * 1000) / (mean(rates[key.startsWith('off') ? 'off' : 'on']) * SECONDS * ROUNDS));
    console.log(
      `${workload.padEnd(15)} off ${Math.round(mean(rates.off))} req/s [${rates.off.map(Math.round).join(', ')}], ` +
        `rate 1 ${Math.round(mean(rates.on))} req/s [${rates.on.map(Math.round).join(', ')}] → throughput cost ${pct(cost)} ` +
        `(rounds: mean ${pct(interval.mean)}, 95 % interval ${pct(interval.low)} … ${pct(interval.high)} by bootstrap over the rounds; ` +
        `median ${pct(roundCosts[Math.floor(roundCosts.length / 2)] ?? 0)}, ${pct(roundCosts[0] ?? 0)} … ${pct(roundCosts[roundCosts.length - 1] ?? 0)}) ` +
        `(${cost < LIMIT ? 'PASS' : 'FAIL'} < ${pct(LIMIT)}${undecided ? `; ${pct(LIMIT)} lies inside the interval: this run alone cannot tell` : ''}); CPU ${perReq('off')} vs ${perReq('on')} µs/req, of which the request thread ${perReq('off-main')} vs ${perReq('on-main')}, ` +
        // At rate 1 every request is a sample: the other threads' extra CPU per request is the worker's (and its GC's) per sample.
        `outside it ${signed(perReq('on') - perReq('on-main') - (perReq('off') - perReq('off-main')))} µs per sample; ` +
        `samples stored ${samples('stored')}, dropped ${samples('dropped')} (${samples('dropped') === 0 ? 'PASS' : 'FAIL'}: none dropped)`,
    );
    if (revision === undefined) {
      console.log(`${''.padEnd(15)} not a git checkout: runs are not recorded or pooled`);
      continue;
    }
    const rounds = rates.off.map((off, i) => ({ off, on: rates.on[i] ?? NaN }));
    const run = { at: new Date().toISOString(), revision, commit: gitCommit(), node: process.version, workload, seconds: SECONDS, rounds, cost, dropped: samples('dropped') };
    appendRun(HISTORY, run);
    console.log(`${''.padEnd(15)} ${describePooled(pool(readRuns(HISTORY), run), LIMIT)}`);
  }
} finally {
  await Promise.all(children.map((c) => c.stop()));
  rmSync(work, { recursive: true, force: true });
}
