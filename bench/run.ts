// `npm run bench`: starts a fake OpenAI upstream, a minimal undici pass-through and the gateway on
// loopback — each in its own process — and measures, in one run, throughput at fixed concurrency,
// latency at a fixed rate, streaming time-to-first-byte and RSS with many open streams, as ratios
// against calling the upstream directly and against the pass-through. See bench/README.md.
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gatewayConfig, MESSAGES, ROUTES, UPSTREAMS, upstreamSpecs, upstreamUrls, writeConfig, type UpstreamName } from './gateway-config.js';
import {
  autocannonRun,
  mergeLoadRuns,
  mergePacedRuns,
  mergeStreamRuns,
  openStreamsRun,
  pacedRun,
  ttfbRun,
  withoutSamples,
  type LoadRun,
  type PacedRun,
  type StreamRun,
  type Target,
} from './measure.js';
import { parseOptions } from './options.js';
import { GATEWAY_NODE_FLAGS } from '../src/runtime-flags.js';
import { rssBytes, startChild, type Child } from './processes.js';
import type { ProfileReply } from './ipc.js';
import { combineShares, CpuMeter, type CpuShare } from './cpu.js';
import { formatSummary, readProfile, summariseProfile, type ProfileSummary } from './profile-top.js';
import { cpuPerRequestUs, render, verdicts, worstOtherLoad, WHO, type Results, type RoundFigures, type Who } from './report.js';
import type { PassthroughSpec } from './passthrough-child.js';
import { round } from './stats.js';
import { gitCommit } from './revision.js';

const options = parseOptions(process.argv.slice(2), process.env);
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

const CHAT_PATH = '/v1/chat/completions';
const STREAM_TOKENS = 20; // 20 chunks × 10 ms ≈ 200 ms per stream
const SLOW_TOKEN_MS = 1000 / (UPSTREAMS.slow.tokensPerSecond);
const HOLD_MS = options.quick ? 1000 : 3000;
// A slow stream could last SLOW_TOKENS × 500 ms = 25 s — longer than any ramp + hold; the bench
// cancels them all once RSS is sampled.
const SLOW_TOKENS = 50;
const TTFB_CONCURRENCY = 8;
const STREAM_WARMUP_FACTOR = 3;
const STREAM_DURATION_FACTOR = 2;
/** Concurrent streams in the streaming phase's warm-up: ~2,000 streams in 6 s instead of ~250. */
const STREAM_WARMUP_CONCURRENCY = 64;
const PROFILED = new Set(['throughput', 'fixedRate', 'streaming']);
const RATE_AUTOCANNON_CONNECTIONS = 10;

const bodies = {
  chat: JSON.stringify({ model: ROUTES.fast, messages: MESSAGES }),
  stream: JSON.stringify({ model: ROUTES.stream, messages: MESSAGES, stream: true, max_tokens: STREAM_TOKENS }),
  slow: JSON.stringify({ model: ROUTES.slow, messages: MESSAGES, stream: true, max_tokens: SLOW_TOKENS }),
};

const work = mkdtempSync(join(tmpdir(), 'bellwether-bench-'));
const logPath = options.logFile ? resolve(options.logFile) : join(work, 'gateway.log');
const children: Child[] = [];
const startedAt = new Date();

async function main(): Promise<void> {
  log(
    `${options.quick ? 'quick' : 'full'} run: ${options.warmupS} s warm-up + ${options.durationS} s per measurement, in ${options.rounds} rounds of ${round(options.durationS / options.rounds, 2)} s; ${cpus().length} CPUs`,
  );
  const upstream = await startChild({
    name: 'fake upstream',
    module: 'upstream-child.js',
    args: [JSON.stringify(upstreamSpecs())],
  });
  children.push(upstream);
  const upstreams = upstreamUrls(upstream.urls);

  const passthrough = await startChild({
    name: 'pass-through',
    module: 'passthrough-child.js',
    // Same Node flags as the gateway, so the comparison is between programs, not runtime settings.
    execArgv: [...GATEWAY_NODE_FLAGS],
    args: [
      JSON.stringify(
        (Object.keys(UPSTREAMS) as UpstreamName[]).map((name): PassthroughSpec => ({ name, upstream: upstreams[name], connections: name === 'slow' ? options.streams + 16 : 128 })),
      ),
    ],
  });
  children.push(passthrough);
  const pt = (name: UpstreamName): string => must(passthrough.urls[name], `pass-through ${name}`);

  const configFile = join(work, 'gateway.yaml');
  writeConfig(
    configFile,
    gatewayConfig({
      upstreams,
      slowConnections: options.streams + 16,
      samplingRate: options.samplingRate,
      datasetsDir: join(work, 'datasets'),
      fragments: options.fragments,
    }),
  );
  if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
  const logFd = openSync(logPath, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LOG_LEVEL; // the config's level (info) is what we measure
  const gateway = await startChild({
    name: 'gateway',
    module: 'gateway-child.js',
    args: [configFile],
    execArgv: [...GATEWAY_NODE_FLAGS],
    stdout: logFd,
    env,
  });
  closeSync(logFd);
  children.push(gateway);
  const gw = must(gateway.urls.gateway, 'gateway url');
  const rssIdleStart = { gateway: rssBytes(gateway.pid), passthrough: rssBytes(passthrough.pid) };
  log(`upstream pid ${upstream.pid}, pass-through pid ${passthrough.pid}, gateway pid ${gateway.pid} (${gw}); gateway log → ${logPath}`);

  const targets = (path: UpstreamName, body: string): Record<Who, Target> => ({
    direct: { origin: upstreams[path], path: CHAT_PATH, body },
    passthrough: { origin: pt(path), path: CHAT_PATH, body },
    gateway: { origin: gw, path: CHAT_PATH, body },
  });
  const chat = targets('fast', bodies.chat);
  const stream = targets('stream', bodies.stream);
  const slow = targets('slow', bodies.slow);
  await smokeTest([...WHO.map((w) => chat[w]), ...WHO.map((w) => stream[w])]);

  const profiles: Record<string, { file: string; summary: ProfileSummary }> = {};
  const meter = new CpuMeter({ bench: process.pid, upstream: upstream.pid, passthrough: passthrough.pid, gateway: gateway.pid });
  const cpu: Results['cpu'] = {};
  const rounds: Results['rounds'] = {};
  /** A discarded warm-up of each target, before any of them is measured. */
  const warmUp = async (phase: string, run: Run<unknown>, warmupS: number): Promise<void> => {
    if (warmupS <= 0) return;
    for (const who of WHO) {
      log(`${phase}: ${who} warm-up (${warmupS} s)`);
      // In two halves, each on its own connections: V8 deoptimises much of the HTTP path the first
      // time connections close (their objects change shape), and the next second runs at about
      // half speed while it recompiles; after a second turnover it doesn't (--trace-deopt). A
      // long-running server has long been past that, so it belongs in the warm-up.
      await run(who, warmupS / 2);
      await run(who, warmupS / 2);
    }
  };
  /** An extra gateway run under the profiler, after the measured rounds, so profiling never skews the numbers. */
  const profileGateway = async (phase: string, run: Run<unknown>): Promise<void> => {
    log(`${phase}: gateway again, CPU-profiled`);
    const file = resolve(must(options.cpuProfDir, 'profile directory'), `gateway-${phase}.cpuprofile`);
    await checkReply(gateway.profile({ type: 'profile-start' }));
    await run('gateway', options.durationS);
    await checkReply(gateway.profile({ type: 'profile-stop', file }));
    profiles[phase] = { file, summary: summariseProfile(readProfile(file)) };
  };
  /**
   * Runs one measurement against each of the three: a warm-up each (discarded), then the measured time
   * in rounds with CPU accounting, and merges each target's rounds into one result. The machine is
   * shared and its speed drifts within seconds; measured one target after the other, a spell of
   * outside load fell on whichever ran during it and decided a comparison. In rounds, each a slice of
   * every target in rotated order (direct, pass-through, gateway; then pass-through, gateway, direct;
   * …), a spell falls on all three, and every target runs first, second and last alike.
   */
  const each = async <R extends { samples: unknown }>(
    phase: string,
    kind: Kind<R>,
    run: Run<R>,
    warm: { seconds: number; run: Run<unknown> } = { seconds: options.warmupS, run },
    measuredS = options.durationS,
  ): Promise<Record<Who, Omit<R, 'samples'>>> => {
    await warmUp(phase, warm.run, warm.seconds);
    const parts: Record<Who, { run: R; share: CpuShare }[]> = { direct: [], passthrough: [], gateway: [] };
    const figures: RoundFigures[] = [];
    for (let n = 0; n < options.rounds; n++) {
      for (const who of rotated(n)) {
        log(`${phase}: ${who}, round ${n + 1}/${options.rounds}`);
        const start = meter.snapshot();
        const result = await run(who, measuredS / options.rounds);
        const share = meter.since(start);
        parts[who].push({ run: result, share });
        figures.push({ round: n, who, ...kind.figures(result), cpuUsPerReq: cpuPerRequestUs(share, who, kind.requests(result)), otherPct: share.otherPct });
      }
    }
    if (options.cpuProfDir && PROFILED.has(phase)) await profileGateway(phase, run);
    cpu[phase] = perWho((who) => combineShares(parts[who].map((p) => p.share)));
    rounds[phase] = figures;
    return perWho((who) => withoutSamples(kind.merge(parts[who].map((p) => p.run))));
  };

  const throughput = await each('throughput', LOAD, (who, durationS) => autocannonRun(chat[who], { connections: options.concurrency, durationS }));
  const fixedRate = await each('fixedRate', PACED, (who, durationS) => pacedRun(chat[who], { rate: options.rate, durationS }));
  const fixedRateAutocannon = options.quick
    ? undefined
    : await each('fixedRateAutocannon', LOAD, (who, durationS) => autocannonRun(chat[who], { connections: RATE_AUTOCANNON_CONNECTIONS, overallRate: options.rate, durationS }));
  // Streams warm up three times longer and eight times wider, every target alike. The gateway's
  // streaming path (SSE parsing, the relay, the stream branch of the handler) runs only for stream
  // requests, and V8 optimises a function after enough calls, not enough seconds: a fresh gateway
  // under the measured 8-stream load (~40 streams/s) needed ~45 s — ~1,800 streams — before its
  // TTFB and CPU per stream stopped falling. 64 streams at once serve ~2,000 in the 6 s. A gateway in
  // production has long been past that; the measured rounds keep the 8-stream load.
  // Measured twice as long too: ~40 streams a second give ~80 TTFB samples per target and round (the
  // other phases thousands), and where a new stream's request lands among the other seven streams'
  // 10 ms chunk bursts drifts slowly — single 2 s rounds differed by up to 1 ms from their neighbours.
  const streaming = await each(
    'streaming',
    STREAM,
    (who, durationS) => ttfbRun(stream[who], { concurrency: TTFB_CONCURRENCY, durationS }),
    { seconds: options.warmupS * STREAM_WARMUP_FACTOR, run: (who, durationS) => ttfbRun(stream[who], { concurrency: STREAM_WARMUP_CONCURRENCY, durationS }) },
    options.durationS * STREAM_DURATION_FACTOR,
  );

  const memory: Results['memory'] = {};
  for (const who of options.quick ? (['gateway'] as const) : (['passthrough', 'gateway'] as const)) {
    const pid = who === 'gateway' ? gateway.pid : passthrough.pid;
    log(`${options.streams} open streams: ${who}`);
    const result = await openStreamsRun(slow[who], { count: options.streams, holdMs: HOLD_MS, rss: () => rssBytes(pid), timeoutMs: SLOW_TOKENS * SLOW_TOKEN_MS });
    memory[who] = { ...result, rssIdleStartBytes: rssIdleStart[who] };
  }

  log('stopping');
  for (const child of [...children].reverse()) await child.stop();
  const gatewayLog = await logStats(logPath);

  const results: Results = {
    meta: {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      quick: options.quick,
      warmupS: options.warmupS,
      durationS: options.durationS,
      rounds: options.rounds,
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      totalMemMb: Math.round(totalmem() / 1048576),
      loadAvgAfter: loadavg().map((l) => Math.round(l * 100) / 100),
      commit: gitCommit(),
      processes: 'fake upstream, pass-through and gateway each run in their own child process; the load generator (autocannon / undici) in the parent. All share the machine’s CPUs.',
      gatewayConfig: {
        routes: ROUTES,
        provider: 'openai-compatible → fake upstream; champion and challenger at 50 % on each route',
        samplingRate: options.samplingRate ?? null,
        fragments: options.fragments,
      },
      gatewayLogging: {
        how: 'product logger (createLogger: pino, level from config = info, redaction, ISO time) → stdout of the gateway process, redirected to a file',
        file: options.logFile ? logPath : '(temp file, deleted)',
        ...gatewayLog,
      },
      loads: {
        throughput: `autocannon, ${options.concurrency} connections, non-streaming`,
        fixedRate: `open loop, ${options.rate} req/s evenly spaced (1 ms dispatch timer), undici Pool; latency = dispatch → last body byte`,
        fixedRateAutocannon: `autocannon overallRate ${options.rate}, ${RATE_AUTOCANNON_CONNECTIONS} connections (each sends its quota of ${options.rate / RATE_AUTOCANNON_CONNECTIONS} back to back at the start of every second)`,
        streaming: `${TTFB_CONCURRENCY} undici workers streaming one answer after another; ${STREAM_TOKENS} content chunks, 10 ms apart; TTFB = request sent → first body byte; warm-up ${options.warmupS * STREAM_WARMUP_FACTOR} s at ${STREAM_WARMUP_CONCURRENCY} concurrent streams; measured ${options.durationS * STREAM_DURATION_FACTOR} s per target`,
        memory: `${options.streams} concurrent streams, ${SLOW_TOKEN_MS} ms between chunks; RSS from /proc/<pid>/status sampled every 100 ms for ${HOLD_MS} ms while all are open, then the streams are cancelled`,
        cpu: 'CPU ms per process from /proc/<pid>/stat over each measured window (warm-up excluded), summed over the rounds; otherPct = share of all cores used by processes outside the bench, weighted by each round’s wall time',
        rounds: `each phase: every target warmed up, then ${options.rounds} rounds of ${round(options.durationS / options.rounds, 2)} s, the targets in rotated order (round 1: direct, pass-through, gateway; round 2: pass-through, gateway, direct; …); each target’s rounds merged from every sample (percentiles of the union, req/s = requests ÷ seconds, CPU summed)`,
      },
    },
    throughput,
    fixedRate,
    fixedRateAutocannon,
    streaming,
    memory,
    cpu,
    rounds,
  };
  const verdictList = verdicts(results);
  const table = render(results, verdictList);
  mkdirSync(dirname(resolve(options.out)), { recursive: true });
  writeFileSync(resolve(options.out), `${JSON.stringify({ ...results, targets: verdictList, ...(Object.keys(profiles).length > 0 ? { profiles } : {}) }, null, 2)}\n`);

  const out: string[] = [
    '',
    `Bellwether bench — ${startedAt.toISOString()} — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})${options.quick ? ' — QUICK RUN (short, noisy)' : ''}`,
    `Processes: upstream, pass-through and gateway each in their own child; load generator in the parent — ${cpus().length} cores shared by all, so compare ratios, not absolute numbers.`,
    `Gateway: openai-compatible provider → fake upstream, champion/challenger 50 %, sampling ${options.samplingRate === undefined ? 'not configured' : `rate ${options.samplingRate}`}${options.fragments.length > 0 ? `, fragments ${options.fragments.join(', ')}` : ''}.`,
    `Gateway logging: pino at info (product logger) → stdout → file; ${gatewayLog.lines} lines, ${(gatewayLog.bytes / 1048576).toFixed(1)} MB written during the run.`,
    table,
    `JSON: ${resolve(options.out)}`,
  ];
  const other = worstOtherLoad(results);
  if (other !== undefined && other > 10) {
    out.push(`WARNING: processes outside the bench used up to ${other.toFixed(0)} % of the machine during a measurement ("other load" column) — wall-clock numbers are disturbed; CPU µs/req is the steadier figure. Re-run on a quiet machine before trusting a verdict.`);
  }
  const failed = verdictList.filter((v) => !v.pass);
  out.push(failed.length === 0 ? 'ALL TARGETS PASS' : `${failed.length} of ${verdictList.length} TARGETS FAIL: ${failed.map((v) => v.target).join('; ')}`);
  for (const [phase, p] of Object.entries(profiles)) {
    out.push('', `Gateway CPU profile, ${phase} (a separate run after the measured one): ${p.file}`, formatSummary(p.summary, 15));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** One measurement of one target for `durationS` seconds. */
type Run<R> = (who: Who, durationS: number) => Promise<R>;

/** How a phase's measurement merges over rounds and what it shows per round. */
interface Kind<R> {
  merge(parts: R[]): R;
  figures(result: R): Pick<RoundFigures, 'reqPerSec' | 'p50Ms' | 'p99Ms' | 'ttfbP50Ms'>;
  /** Requests the serving process worked on, for CPU per request (as the tables count them). */
  requests(result: R): number;
}

const LOAD: Kind<LoadRun> = {
  merge: mergeLoadRuns,
  figures: (r) => ({ reqPerSec: r.reqPerSec, p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms }),
  requests: (r) => r.ok + r.non2xx,
};

const PACED: Kind<PacedRun> = { ...LOAD, merge: mergePacedRuns };

const STREAM: Kind<StreamRun> = {
  merge: mergeStreamRuns,
  figures: (r) => ({ reqPerSec: round(r.streams / r.durationS, 1), p50Ms: r.total.p50Ms, p99Ms: r.total.p99Ms, ttfbP50Ms: r.ttfb.p50Ms }),
  requests: (r) => r.streams + r.errors,
};

/** Round r's order: WHO rotated left by r, so over three rounds every target takes every position. */
function rotated(round: number): Who[] {
  return WHO.map((_, i) => WHO[(i + round) % WHO.length] as Who);
}

function perWho<T>(value: (who: Who) => T): Record<Who, T> {
  return { direct: value('direct'), passthrough: value('passthrough'), gateway: value('gateway') };
}

/** One request per target before measuring: a misconfigured bench must not produce numbers. */
async function smokeTest(targets: Target[]): Promise<void> {
  for (const t of targets) {
    const res = await fetch(`${t.origin}${t.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`smoke test: ${t.origin}${t.path} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

async function logStats(path: string): Promise<{ lines: number; bytes: number }> {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  }
  return { lines, bytes: statSync(path).size };
}

async function checkReply(reply: Promise<ProfileReply>): Promise<void> {
  const r = await reply;
  if (r.error) throw new Error(`gateway profiler: ${r.error}`);
}

function must(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new Error(`bench: no ${what}`);
  return value;
}

function cleanup(): void {
  rmSync(work, { recursive: true, force: true });
}

try {
  await main();
  cleanup();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await Promise.allSettled(children.map((c) => c.stop()));
  cleanup();
  process.exitCode = 1;
}
