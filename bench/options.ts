// Command-line options of `npm run bench` (`npm run bench -- --quick`, ...). Environment variables
// mirror the flags so CI can set them without touching the script.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  /** Seconds of measurement per data point, in total over its rounds. */
  durationS: number;
  /** Rounds the measured time of each phase is split into, the three targets in rotated order in each. */
  rounds: number;
  /** Seconds of discarded warm-up before each data point. */
  warmupS: number;
  /** `routes.*.sampling.rate` for the gateway's routes; undefined leaves sampling unconfigured. */
  samplingRate: number | undefined;
  /** YAML files deep-merged over the generated gateway config, in order. */
  fragments: string[];
  /** Profile extra gateway runs and write .cpuprofile files to this directory. */
  cpuProfDir: string | undefined;
  /** Keep the gateway's log file here instead of a temp file deleted at the end. */
  logFile: string | undefined;
  out: string;
  streams: number;
  concurrency: number;
  rate: number;
}

const HELP = `npm run bench -- [options]
  --quick                 ~20 s smoke run (short measurements)          env BENCH_QUICK=1
  --duration <s>          measured seconds per target and phase (default 8, quick 1.5)
  --rounds <n>            ... in n rounds, targets in rotated order    env BENCH_ROUNDS
                          (default 4, quick 2)
  --warmup <s>            warm-up seconds before each, in two halves (default 2, quick 0.5)
  --sampling              configure routes.*.sampling: { rate: 1 }        env BENCH_SAMPLING=1
  --sampling-rate <r>     ... with this rate instead (0..1)              env BENCH_SAMPLING_RATE
  --config <file.yaml>    YAML fragment deep-merged over the generated gateway config (repeatable)
  --cpu-prof              after the measured rounds of phases 1-3, one more gateway run under the V8
                          profiler; writes .cpuprofile files and prints the top frames
  --cpu-prof-dir <dir>    where to write them (default bench/results/profiles)
  --log-file <path>       keep the gateway's log here (default: temp file, deleted)
  --out <path>            JSON results (default bench/results/latest.json)
  --streams <n>           open streams for the RSS measurement (default 1000)
  --help`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      sampling: { type: 'boolean' },
      'sampling-rate': { type: 'string' },
      config: { type: 'string', multiple: true },
      'cpu-prof': { type: 'boolean' },
      'cpu-prof-dir': { type: 'string' },
      'log-file': { type: 'string' },
      out: { type: 'string' },
      streams: { type: 'string' },
      help: { type: 'boolean' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const quick = values.quick === true || env.BENCH_QUICK === '1';
  const roundsText = values.rounds ?? env.BENCH_ROUNDS;
  const rateText = values['sampling-rate'] ?? env.BENCH_SAMPLING_RATE;
  const samplingRate = rateText !== undefined ? number(rateText, 'sampling rate', 0, 1) : values.sampling === true || env.BENCH_SAMPLING === '1' ? 1 : undefined;
  return {
    quick,
    durationS: values.duration !== undefined ? number(values.duration, '--duration', 0.5, 600) : quick ? 1.5 : 8,
    rounds: roundsText !== undefined ? integer(roundsText, 'rounds', 1, 20) : quick ? 2 : 4,
    warmupS: values.warmup !== undefined ? number(values.warmup, '--warmup', 0, 60) : quick ? 0.5 : 2,
    samplingRate,
    fragments: values.config ?? [],
    cpuProfDir: values['cpu-prof-dir'] ?? (values['cpu-prof'] === true ? 'bench/results/profiles' : undefined),
    logFile: values['log-file'],
    out: values.out ?? 'bench/results/latest.json',
    streams: values.streams !== undefined ? Math.round(number(values.streams, '--streams', 1, 20_000)) : 1000,
    concurrency: 64,
    rate: 500,
  };
}

function integer(text: string, what: string, min: number, max: number): number {
  const n = number(text, what, min, max);
  if (!Number.isInteger(n)) throw new Error(`${what} must be a whole number, got "${text}"`);
  return n;
}

export function number(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${what} must be a number in [${min}, ${max}], got "${text}"`);
  return n;
}
