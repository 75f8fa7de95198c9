// The four measurements. Each is bounded in time and returns plain numbers; none of them knows which
// server it is pointed at, so direct, pass-through and gateway are measured identically.
import autocannon from 'autocannon';
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import { summarise, round, type Latency } from './stats.js';

export interface Target {
  /** Origin, e.g. http://127.0.0.1:1234 */
  origin: string;
  path: string;
  body: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export interface LoadResult {
  reqPerSec: number;
  latency: Latency;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
}

/**
 * What a load measurement returns: its result plus every latency sample (ms). run.ts measures each
 * target in rounds and merges them from the samples, so a merged percentile is the percentile of all
 * requests, not an average of the rounds' percentiles. The samples never go into the results file:
 * there are hundreds of thousands.
 */
export interface LoadRun extends LoadResult {
  samples: number[];
}

export interface PacedRun extends LoadRun {
  maxInflight: number;
}

/** One result for a measurement taken in rounds: requests and seconds add up, percentiles of every sample. */
export function mergeLoadRuns(parts: readonly LoadRun[]): LoadRun {
  const sum = (field: (p: LoadRun) => number): number => parts.reduce((s, p) => s + field(p), 0);
  const samples = parts.flatMap((p) => p.samples);
  const ok = sum((p) => p.ok);
  const durationS = sum((p) => p.durationS);
  return {
    reqPerSec: round(ok / durationS, 1),
    latency: summarise(samples),
    ok,
    non2xx: sum((p) => p.non2xx),
    errors: sum((p) => p.errors),
    timeouts: sum((p) => p.timeouts),
    durationS: round(durationS, 2),
    samples,
  };
}

export function mergePacedRuns(parts: readonly PacedRun[]): PacedRun {
  return { ...mergeLoadRuns(parts), maxInflight: Math.max(0, ...parts.map((p) => p.maxInflight)) };
}

/** The result as written to the results file. */
export function withoutSamples<R extends { samples: unknown }>(run: R): Omit<R, 'samples'> {
  const { samples, ...result } = run;
  return result;
}

/**
 * Closed loop with autocannon: `connections` keep-alive connections, each sending its next request as
 * soon as the previous answer arrived. With `overallRate`, autocannon caps each connection at
 * rate/connections requests per second. Latencies come from autocannon's per-response event (it
 * times with process.hrtime) so they keep sub-millisecond precision; its own histogram rounds to 1 ms.
 */
export async function autocannonRun(target: Target, options: { connections: number; durationS: number; overallRate?: number }): Promise<LoadRun> {
  const base: autocannon.Options = {
    url: `${target.origin}${target.path}`,
    method: 'POST',
    headers: JSON_HEADERS,
    body: target.body,
    connections: options.connections,
    timeout: 10,
    ...(options.overallRate !== undefined ? { overallRate: options.overallRate } : {}),
  };
  const samples: number[] = [];
  let ok = 0;
  const result = await runAutocannon({ ...base, duration: options.durationS }, (statusCode, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      samples.push(responseTime);
    }
  });
  return {
    reqPerSec: round(ok / result.duration, 1),
    latency: summarise(samples),
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    samples,
  };
}

function runAutocannon(options: autocannon.Options, onResponse: (statusCode: number, responseTimeMs: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err: unknown, result: autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => onResponse(statusCode, responseTime));
  });
}

/**
 * Open loop at a fixed rate: request i is sent at start + i/rate whatever happened to earlier ones
 * (a 1 ms timer dispatches every request that is due), so a slow server cannot slow the load down.
 * Latency is dispatch → last body byte, per request, with undici.
 */
export async function pacedRun(target: Target, options: { rate: number; durationS: number }): Promise<PacedRun> {
  const pool = new Pool(target.origin, { connections: 256, keepAliveTimeout: 30_000 });
  try {
    return await paced(pool, target, options.rate, options.durationS);
  } finally {
    await pool.close();
  }
}

async function paced(pool: Pool, target: Target, rate: number, durationS: number): Promise<PacedRun> {
  const total = Math.max(1, Math.round(rate * durationS));
  const samples: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let inflight = 0;
  let maxInflight = 0;
  const pending = new Set<Promise<void>>();
  const fire = (): void => {
    const started = performance.now();
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    const p = pool
      .request({ method: 'POST', path: target.path, headers: JSON_HEADERS, body: target.body, headersTimeout: 10_000, bodyTimeout: 10_000 })
      .then(async (res) => {
        await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++;
          samples.push(performance.now() - started);
        } else {
          non2xx++;
        }
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        inflight--;
        pending.delete(p);
      });
    pending.add(p);
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const sendingS = (performance.now() - start) / 1000;
  await Promise.all(pending);
  // durationS unrounded: rounds add their seconds up, and req/s is requests ÷ those seconds.
  return { reqPerSec: round(ok / sendingS, 1), latency: summarise(samples), ok, non2xx, errors, timeouts: 0, durationS: sendingS, maxInflight, samples };
}

export interface StreamResult {
  /** Request sent → first byte of the response body (for the fake upstream: the role chunk). */
  ttfb: Latency;
  /** Request sent → end of stream. */
  total: Latency;
  streams: number;
  errors: number;
  /** Streams that ended without `data: [DONE]`. */
  incomplete: number;
  /** Start → the last worker's last stream ended. */
  durationS: number;
}

/** A stream measurement with its raw samples (ms); see LoadRun. */
export interface StreamRun extends StreamResult {
  samples: { ttfb: number[]; total: number[] };
}

/** One result for a measurement taken in rounds (see mergeLoadRuns). */
export function mergeStreamRuns(parts: readonly StreamRun[]): StreamRun {
  const sum = (field: (p: StreamRun) => number): number => parts.reduce((s, p) => s + field(p), 0);
  const samples = { ttfb: parts.flatMap((p) => p.samples.ttfb), total: parts.flatMap((p) => p.samples.total) };
  return {
    ttfb: summarise(samples.ttfb),
    total: summarise(samples.total),
    streams: sum((p) => p.streams),
    errors: sum((p) => p.errors),
    incomplete: sum((p) => p.incomplete),
    durationS: round(sum((p) => p.durationS), 2),
    samples,
  };
}

/** `concurrency` workers each stream one answer after another until the time is up. */
export async function ttfbRun(target: Target, options: { concurrency: number; durationS: number }): Promise<StreamRun> {
  const pool = new Pool(target.origin, { connections: options.concurrency, keepAliveTimeout: 30_000 });
  try {
    return await ttfbLoop(pool, target, options.concurrency, options.durationS);
  } finally {
    await pool.close();
  }
}

async function ttfbLoop(pool: Pool, target: Target, concurrency: number, durationS: number): Promise<StreamRun> {
  const start = performance.now();
  const deadline = start + durationS * 1000;
  const ttfb: number[] = [];
  const total: number[] = [];
  let errors = 0;
  let incomplete = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path: target.path, headers: JSON_HEADERS, body: target.body, headersTimeout: 10_000, bodyTimeout: 10_000 });
        let first: number | undefined;
        let tail = '';
        for await (const chunk of res.body) {
          first ??= performance.now() - started;
          tail = (tail + (chunk as Buffer).toString('utf8')).slice(-64);
        }
        if (res.statusCode !== 200 || first === undefined) {
          errors++;
          continue;
        }
        if (!tail.includes('data: [DONE]')) incomplete++;
        ttfb.push(first);
        total.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const tookS = (performance.now() - start) / 1000;
  return { ttfb: summarise(ttfb), total: summarise(total), streams: ttfb.length, errors, incomplete, durationS: tookS, samples: { ttfb, total } };
}

export interface OpenStreamsResult {
  requested: number;
  /** Streams whose first body byte arrived. */
  opened: number;
  /** Fewest streams open at once while RSS was sampled (should equal `requested`). */
  minOpenWhileSampling: number;
  /** Streams that failed or ended before the bench cancelled them (should be 0). */
  failed: number;
  rampMs: number;
  rssBeforeBytes: number | undefined;
  rssPeakBytes: number | undefined;
}

/**
 * Opens `count` slow streams at once (in batches of 100, to stay within the listen backlog), waits until
 * every one has received its first byte, samples `rss()` every 100 ms for `holdMs` while all of them
 * are open, then cancels them (client disconnect). Each stream must be able to outlast ramp + hold;
 * `timeoutMs` bounds the whole thing.
 */
export async function openStreamsRun(
  target: Target,
  options: { count: number; holdMs: number; rss: () => number | undefined; timeoutMs: number },
): Promise<OpenStreamsResult> {
  const pool = new Pool(target.origin, { connections: options.count + 16, keepAliveTimeout: 5_000 });
  const ac = new AbortController();
  setMaxListeners(options.count + 16, ac.signal);
  const kill = setTimeout(() => ac.abort(), options.timeoutMs);
  let opened = 0;
  let failed = 0;
  let live = 0;
  let cancelled = false;
  let onFirstByte: () => void = () => undefined;
  const open = async (): Promise<void> => {
    let seen = false;
    try {
      const res = await pool.request({ method: 'POST', path: target.path, headers: JSON_HEADERS, body: target.body, signal: ac.signal, headersTimeout: 0, bodyTimeout: 0 });
      for await (const chunk of res.body) {
        void chunk;
        if (!seen) {
          seen = true;
          opened++;
          live++;
          onFirstByte();
        }
      }
      if (res.statusCode !== 200 || !cancelled) failed++;
    } catch {
      if (!cancelled) failed++;
    } finally {
      if (seen) live--;
    }
  };
  const streams: Promise<void>[] = [];
  try {
    const rssBeforeBytes = options.rss();
    const started = performance.now();
    for (let i = 0; i < options.count; i += 100) {
      const batch = Math.min(100, options.count - i);
      const wanted = opened + batch;
      const reached = new Promise<void>((resolve) => {
        onFirstByte = () => {
          if (opened >= wanted) resolve();
        };
      });
      for (let j = 0; j < batch; j++) streams.push(open());
      await Promise.race([reached, sleep(5_000)]);
    }
    const rampMs = performance.now() - started;
    let rssPeakBytes = options.rss();
    let minOpenWhileSampling = live;
    const holdUntil = performance.now() + options.holdMs;
    while (performance.now() < holdUntil) {
      await sleep(100);
      const rss = options.rss();
      if (rss !== undefined) rssPeakBytes = Math.max(rssPeakBytes ?? 0, rss);
      minOpenWhileSampling = Math.min(minOpenWhileSampling, live);
    }
    return { requested: options.count, opened, minOpenWhileSampling, failed, rampMs: round(rampMs, 0), rssBeforeBytes, rssPeakBytes };
  } finally {
    cancelled = true;
    ac.abort();
    await Promise.all(streams);
    clearTimeout(kill);
    await pool.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
