// `npm run bench:gc`: what the gateway leaves behind for the garbage collector at a steady rate.
// A scavenge (V8's minor GC) costs what survives it, not what was allocated. When a request's data
// dies young, each pause is about a millisecond; when something keeps it alive across scavenges, the
// pauses grow and set the p99. That happened once: an object literal with a getter closure per
// answer (V8 keeps a literal's accessor pair in old space, so every dead answer pinned its request's
// body through each scavenge) — ~540 KB promoted per scavenge at 500 req/s instead of ~15 KB, and
// 3–5 ms pauses instead of 1–2.5. Heap snapshots cannot show this (a snapshot is a full GC, and those
// objects are dead), so this runs the gateway child with --trace-gc-nvp and reads the minor GCs of
// a measured window. Informational: it prints figures, it judges nothing.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gatewayConfig, MESSAGES, ROUTES, upstreamSpecs, upstreamUrls, writeConfig } from './gateway-config.js';
import { number } from './options.js';
import { pacedRun } from './measure.js';
import { startChild } from './processes.js';
import { GATEWAY_NODE_FLAGS } from '../src/runtime-flags.js';

const HELP = `npm run bench:gc -- [options]
  --rate <n>         requests per second, open loop (default 500)
  --duration <s>     measured seconds (default 12)
  --warmup <s>       discarded seconds first (default 3)
  --sampling         configure routes.*.sampling: { rate: 1 } (the sampling worker's GCs are listed too)`;

const { values } = parseArgs({
  options: { rate: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, sampling: { type: 'boolean' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const rate = values.rate === undefined ? 500 : number(values.rate, '--rate', 1, 100_000);
const durationS = values.duration === undefined ? 12 : number(values.duration, '--duration', 0.5, 600);
const warmupS = values.warmup === undefined ? 3 : number(values.warmup, '--warmup', 0.1, 60);

const BODY = JSON.stringify({ model: ROUTES.fast, messages: MESSAGES });

/** One minor GC as --trace-gc-nvp prints it (sizes in bytes, times in ms). */
interface Scavenge {
  isolate: string;
  pause: number;
  allocated: number;
  promoted: number;
  survived: number;
}

/** `[pid:0xADDR] … gc=s … pause=1.2 … allocated=… promoted=… new_space_survived=…` lines. */
function parseScavenges(text: string): Scavenge[] {
  const out: Scavenge[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(' gc=s ')) continue;
    const field = (name: string): number => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? NaN);
    out.push({
      isolate: line.slice(0, line.indexOf(']') + 1),
      pause: field('pause'),
      allocated: field('allocated'),
      promoted: field('promoted'),
      survived: field('new_space_survived'),
    });
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const kb = (bytes: number): string => `${Math.round(bytes / 1024)} KB`;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bellwether-bench-gc-'));
  const logPath = join(work, 'gateway.log');
  const upstream = await startChild({
    name: 'upstream',
    module: 'upstream-child.js',
    args: [JSON.stringify(upstreamSpecs())],
  });
  const configFile = join(work, 'gateway.yaml');
  writeConfig(
    configFile,
    gatewayConfig({
      upstreams: upstreamUrls(upstream.urls),
      slowConnections: 16,
      samplingRate: values.sampling ? 1 : undefined,
      datasetsDir: join(work, 'datasets'),
      fragments: [],
    }),
  );
  const logFd = openSync(logPath, 'w');
  const gateway = await startChild({
    name: 'gateway',
    module: 'gateway-child.js',
    args: [configFile],
    execArgv: [...GATEWAY_NODE_FLAGS, '--trace-gc-nvp'],
    stdout: logFd,
  });
  closeSync(logFd);
  try {
    const target = { origin: gateway.urls.gateway ?? '', path: '/v1/chat/completions', body: BODY };
    process.stderr.write(`bench:gc: ${warmupS} s warm-up, then ${durationS} s at ${rate} req/s (open loop)${values.sampling ? ', sampling rate 1' : ''}\n`);
    await pacedRun(target, { rate, durationS: warmupS });
    const offset = statSync(logPath).size;
    const load = await pacedRun(target, { rate, durationS });
    const log = readFileSync(logPath);
    const scavenges = parseScavenges(log.subarray(offset).toString('utf8'));
    // The main isolate starts first, so the first trace line in the file is its own.
    const mainIsolate = log.toString('utf8').match(/^\[\d+:0x[0-9a-f]+\]/m)?.[0];
    console.log(`${load.ok} requests in ${load.durationS.toFixed(2)} s (p50 ${load.latency.p50Ms} ms, p99 ${load.latency.p99Ms} ms)`);
    for (const isolate of [...new Set(scavenges.map((s) => s.isolate))]) {
      const mine = scavenges.filter((s) => s.isolate === isolate);
      const name = isolate === mainIsolate ? 'request thread' : 'sampling worker';
      const allocated = mine.reduce((sum, s) => sum + s.allocated, 0);
      console.log(
        `${name}: ${mine.length} scavenges (every ${(load.durationS / mine.length).toFixed(1)} s); per scavenge median ` +
          `promoted ${kb(median(mine.map((s) => s.promoted)))} (max ${kb(Math.max(...mine.map((s) => s.promoted)))}), ` +
          `survived ${kb(median(mine.map((s) => s.survived)))}, pause ${median(mine.map((s) => s.pause))} ms ` +
          `(max ${Math.max(...mine.map((s) => s.pause))}); allocated ~${kb(allocated / load.ok)} per request`,
      );
    }
    if (scavenges.length === 0) console.log('no scavenge in the measured window: the young generation never filled up');
    console.log('Promoted per scavenge well above ~100 KB at 500 req/s means request data outlives scavenges.');
  } finally {
    await gateway.stop();
    await upstream.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
