// `bellwether eval …`: run a suite, compare runs, approve baselines, blind review.
// Exit codes (PRODUCT.md section 6): 0 pass, 1 regression, 2 incomplete, 3 config error.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import Table from 'cli-table3';
import { displayUrl } from '../admin/client.js';
import { ConfigError } from '../config/load.js';
import { approveBaseline, EXIT, readBaseline, regressionGate, type ExitCode } from '../eval/baseline.js';
import { compare, pickVariants, type Comparison } from '../eval/compare.js';
import { freshCases } from '../eval/fresh.js';
import { defaultConfigPath, inProcessGateway, type GatewayHandle } from '../eval/gateway.js';
import { comparisonJunit, comparisonMarkdown, junitXml, runMarkdown } from '../eval/report.js';
import { readResults, writeJson, type RunResults } from '../eval/results.js';
import { exportReview, importReview, reviewMarkdown } from '../eval/review.js';
import { runEval } from '../eval/runner.js';
import { identityFromConfig, identityFromGateway, type ServingIdentity } from '../eval/serving.js';
import { validateWithChecksLibrary } from '../eval/score.js';
import { loadCases, loadSuite, selectSplit, SuiteError, type Split, type Suite } from '../eval/suite.js';

/** A user mistake in arguments or files: printed as lines, exit 3. */
class UsageError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function parseSplit(value: string): Split {
  if (value === 'regression' || value === 'full' || value === 'holdout') return value;
  throw new InvalidArgumentError('must be regression, full or holdout');
}

/**
 * Runs an action and turns every failure into its exit code. Anything unexpected (a run directory
 * that cannot be written, a dataset store that is down) means there is no verdict: exit 2, never
 * Node's default 1, which CI would read as "regression".
 */
async function withExit(action: () => Promise<ExitCode> | ExitCode): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (err) {
    if (err instanceof SuiteError || err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.lines.join('\n')}\n`);
      process.exitCode = EXIT.config;
      return;
    }
    // System errors (ENOTDIR, ECONNREFUSED …) explain themselves; anything else is a bug: keep the stack.
    const system = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
    process.stderr.write(`bellwether eval: did not finish: ${system ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.incomplete;
  }
}

export const defaultRunDir = (suite: Suite) => join('.bellwether', 'evals', suite.name);

function loadSuiteFile(file: string): Suite {
  return loadSuite(file, validateWithChecksLibrary);
}

function readRun(path: string): RunResults {
  try {
    return readResults(path);
  } catch (err) {
    throw new UsageError([`${path}: ${(err as Error).message}`]);
  }
}

const fmt = (x: number | null, digits: number, prefix = '') => (x === null || Number.isNaN(x) ? 'n/a' : `${prefix}${x.toFixed(digits)}`);

function summaryTable(r: RunResults): string {
  const table = new Table({ head: ['variant', 'pass rate (95 % CI)', 'quality', 'cost/success', 'p50/p95 (offline)', 'invalid judge'], style: { head: [], border: [] } });
  for (const v of r.variants) {
    const s = r.summary[v];
    if (!s) continue;
    table.push([
      v,
      `${s.passed}/${s.scored} = ${fmt(s.passRate.rate * 100, 1)} % (${fmt(s.passRate.low * 100, 1)}–${fmt(s.passRate.high * 100, 1)})`,
      fmt(s.meanQuality, 3),
      // Known spend only when some calls' cost is unknown: a lower bound, never those calls at $0.
      s.economics.unpricedCalls > 0 && s.economics.costPerSuccessUsd !== null
        ? `≥ ${fmt(s.economics.costPerSuccessUsd, 6, '$')} (${s.economics.unpricedCalls} call(s) cost unknown)`
        : fmt(s.economics.costPerSuccessUsd, 6, '$'),
      `${fmt(s.latency.p50S, 2)} / ${fmt(s.latency.p95S, 2)} s`,
      `${s.invalidJudgements}/${s.judgements}`,
    ]);
  }
  return table.toString();
}

function writeComparison(c: Comparison, suiteName: string, outDir: string): string {
  writeJson(join(outDir, 'comparison.json'), c);
  const md = join(outDir, 'comparison.md');
  writeFileSync(md, comparisonMarkdown(c, suiteName));
  writeFileSync(join(outDir, 'comparison-junit.xml'), comparisonJunit(c, suiteName));
  return md;
}

interface RunFlags {
  suite: string;
  split: Split;
  baseline?: string;
  url?: string;
  config?: string;
  out?: string;
  variant?: string[];
  fresh?: number;
  datasets: string;
  cache: boolean;
  progress: boolean;
  concurrency?: number;
  json?: boolean;
}

async function runAction(flags: RunFlags): Promise<ExitCode> {
  const suite = loadSuiteFile(flags.suite);
  let cases = selectSplit(loadCases(suite), flags.split);
  if (flags.fresh !== undefined) {
    if (flags.split !== 'full') throw new UsageError(['--fresh goes with --split full (fresh samples are never regression cases)']);
    const dataset = suite.freshFrom ?? suite.variants[0]?.model ?? suite.name;
    const fresh = await freshCases(flags.datasets, dataset, flags.fresh, new Set(cases.map((c) => c.id)));
    if (fresh.problems.length > 0) throw new UsageError(fresh.problems);
    cases = [...cases, ...fresh.cases];
  }
  if (flags.variant) {
    const unknown = flags.variant.filter((v) => !suite.variants.some((s) => s.name === v));
    if (unknown.length > 0) throw new UsageError([`${flags.suite}: no variant(s) ${unknown.join(', ')} (has ${suite.variants.map((v) => v.name).join(', ')})`]);
  }
  const baseline = flags.baseline !== undefined ? loadBaselineFile(flags.baseline) : undefined;
  if (baseline && flags.baseline !== undefined) {
    // "No case that passed in the baseline now fails" checks nothing for a variant the baseline
    // never saw; say so before any model is called rather than pass the gate silently.
    const running = flags.variant ?? suite.variants.map((v) => v.name);
    const uncovered = running.filter((v) => baseline.variants[v] === undefined);
    if (uncovered.length > 0) {
      throw new UsageError([`${flags.baseline}: no baseline for variant(s) ${uncovered.join(', ')} (has ${Object.keys(baseline.variants).join(', ') || 'none'}); run with --variant, or approve a run that includes them`]);
    }
  }
  const outDir = flags.out ?? defaultRunDir(suite);

  let gateway: GatewayHandle | undefined;
  const url = flags.url ?? process.env.BELLWETHER_URL;
  if (url === undefined) gateway = await inProcessGateway(defaultConfigPath(flags.config));
  let results: RunResults;
  try {
    const serving: ServingIdentity | undefined = gateway ? identityFromConfig(gateway.config) : await identityFromGateway(url as string, process.env.BELLWETHER_ADMIN_TOKEN);
    if (!serving && flags.cache) process.stderr.write(`bellwether eval: cannot read which models serve the routes at ${displayUrl(url as string)} (admin API; set BELLWETHER_ADMIN_TOKEN): cached answers are not replayed\n`);
    results = await runEval({
      ...(serving ? { serving } : {}),
      suite,
      cases,
      split: flags.split,
      url: url ?? (gateway as GatewayHandle).url,
      outDir,
      useCache: flags.cache,
      progress: flags.progress,
      ...(flags.variant ? { variants: flags.variant } : {}),
      ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
      ...(process.env.BELLWETHER_CLIENT_KEY ? { apiKey: process.env.BELLWETHER_CLIENT_KEY } : {}),
    });
  } finally {
    await gateway?.close();
  }

  // The regression gate is for CI: the regression split, or any run held against a baseline. A full
  // run is an evaluation: it fails when incomplete, or (below) when its verdict is DON'T SWITCH.
  const gated = flags.split === 'regression' || baseline !== undefined;
  const gate = gated
    ? regressionGate(results, baseline, suite.decision.minPassRate)
    : { exitCode: results.status === 'complete' ? EXIT.pass : EXIT.incomplete, findings: [] };
  writeFileSync(join(outDir, 'report.md'), runMarkdown(results, gate.findings));
  writeFileSync(join(outDir, 'junit.xml'), junitXml(results, gate.findings));
  let comparison: Comparison | undefined;
  let comparisonPath: string | undefined;
  if (results.compare) {
    comparison = compare({
      champion: { results, variant: results.compare.champion },
      challenger: { results, variant: results.compare.challenger },
      decision: suite.decision,
      seed: suite.run.seed,
    });
    comparisonPath = writeComparison(comparison, suite.name, outDir);
  }
  // A full (or holdout) run answers "should we switch?": DON'T SWITCH is a failed check, not a pass
  // hidden in a report nobody opens. Switch and inconclusive exit 0; inconclusive says why below.
  const verdictFails = flags.split !== 'regression' && comparison?.verdict === 'dont-switch';
  const exitCode: ExitCode = gate.exitCode === EXIT.pass && verdictFails ? EXIT.regression : gate.exitCode;

  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ runId: results.runId, status: results.status, exitCode, findings: gate.findings, summary: results.summary, verdict: comparison?.verdict, outDir }, null, 2)}\n`);
  } else {
    const lines = [
      `run ${results.runId}: ${cases.length} cases × ${results.variants.length} variant(s), ${results.status}`,
      summaryTable(results),
      ...results.incompleteReasons.map((r) => `INCOMPLETE: ${r}`),
      ...gate.findings.filter((f) => f.kind === 'baseline-uncovered').map((f) => `NOT COVERED: ${f.message}`),
      ...gate.findings.filter((f) => f.kind !== 'incomplete' && f.kind !== 'baseline-uncovered').map((f) => `REGRESSION: ${f.message}`),
      ...(comparison ? [`verdict: ${comparison.verdict}`, ...comparison.reasons.map((r) => `  - ${r}`), `model-switch report: ${comparisonPath}`] : []),
      `results: ${join(outDir, 'results.json')}  report: ${join(outDir, 'report.md')}  junit: ${join(outDir, 'junit.xml')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return exitCode;
}

function loadBaselineFile(file: string) {
  try {
    return readBaseline(file);
  } catch (err) {
    throw new UsageError([(err as Error).message]);
  }
}

export function evalCommand(): Command {
  const cmd = new Command('eval').description('offline evaluation: regression suites and model-switch reports');

  cmd
    .command('run')
    .description('replay a suite through the gateway and score it (exit 0 pass, 1 regression or a full run\'s DON\'T SWITCH, 2 incomplete, 3 config error)')
    .requiredOption('-s, --suite <file>', 'suite file (YAML)')
    .option('--split <split>', 'regression (the CI gate) | full (the model-switch verdict) | holdout', parseSplit, 'regression' as Split)
    .option('--baseline <file>', 'approved baseline: fail when a case that passed there now fails')
    .option('--url <url>', 'gateway URL (default: $BELLWETHER_URL, else an in-process gateway)')
    .option('-c, --config <file>', 'config for the in-process gateway (default: $BELLWETHER_CONFIG or config/default.yaml)')
    .option('-o, --out <dir>', 'run directory: results, reports and the response cache (default: .bellwether/evals/<suite>)')
    .option('--variant <name...>', 'run only these variants')
    .option('--fresh <n>', 'with --split full: add the N most recent production samples', positiveInt)
    .option('--datasets <dir|url>', 'dataset store for --fresh: a JSONL directory or the gateway\'s redis:// URL', 'data/datasets')
    .option('--no-cache', 'call every model again instead of replaying cached answers')
    .option('--no-progress', 'no progress bar')
    .option('--concurrency <n>', 'parallel requests (default: suite run.concurrency or 8)', positiveInt)
    .option('--json', 'machine-readable summary on stdout')
    // The regression gate is documented (evals/demo/README.md) as baseline, critical-case and pass-rate
    // rules; it does not compare the arms. Say so where a CI author looks, so it is not assumed.
    .addHelpText(
      'after',
      [
        '',
        'What fails the build:',
        '  --split regression  exit 1 when a case that passed in the --baseline now fails, a critical case',
        '                      fails, or a variant\'s pass rate is under decision.minPassRate. The arms are',
        '                      not compared with each other: without --baseline, a non-critical case the',
        '                      champion passes and the challenger fails is listed in comparison.md but does',
        '                      not fail the build. Gate each arm against an approved baseline for that.',
        '  --split full        exit 1 when the model-switch verdict is DON\'T SWITCH.',
        '  any split           exit 2 when the run is incomplete, 3 on a config error.',
      ].join('\n'),
    )
    .action((flags: RunFlags) => withExit(() => runAction(flags)));

  cmd
    .command('compare')
    .description('model-switch report: champion from RUN_A vs challenger from RUN_B (or both from RUN_A); exit 0 switch, 1 don\'t switch, 2 inconclusive')
    .argument('<runA>', 'run directory or results.json (champion)')
    .argument('[runB]', 'run directory or results.json (challenger)')
    .option('-o, --out <dir>', 'where to write comparison.{md,json} and comparison-junit.xml (default: RUN_B or RUN_A directory)')
    .option('--json', 'print the comparison JSON')
    .action((runA: string, runB: string | undefined, flags: { out?: string; json?: boolean }) =>
      withExit(() => {
        const a = readRun(runA);
        const b = runB !== undefined ? readRun(runB) : undefined;
        let picked;
        try {
          picked = pickVariants(a, b);
        } catch (err) {
          throw new UsageError([(err as Error).message]);
        }
        const c = compare({ champion: { results: a, variant: picked.champion }, challenger: { results: b ?? a, variant: picked.challenger }, decision: a.suite.decision, ...(a.suite.seed !== undefined ? { seed: a.suite.seed } : {}) });
        const outDir = flags.out ?? runDir(runB ?? runA);
        const md = writeComparison(c, a.suite.name, outDir);
        process.stdout.write(flags.json ? `${JSON.stringify(c, null, 2)}\n` : `verdict: ${c.verdict}\n${c.reasons.map((r) => `  - ${r}`).join('\n')}\nreport: ${md}\n`);
        return c.verdict === 'switch' ? EXIT.pass : c.verdict === 'dont-switch' ? EXIT.regression : EXIT.incomplete;
      }),
    );

  cmd
    .command('baseline')
    .description('regression baselines')
    .command('approve')
    .description('approve a run as the baseline (explicit, never automatic)')
    .argument('<run>', 'run directory or results.json')
    .option('-o, --out <file>', 'baseline file (default: baseline.json next to the suite file)')
    .option('--json', 'print what was approved as JSON')
    .action((run: string, flags: { out?: string; json?: boolean }) =>
      withExit(() => {
        const r = readRun(run);
        let baseline;
        try {
          baseline = approveBaseline(r);
        } catch (err) {
          throw new UsageError([(err as Error).message]);
        }
        const out = flags.out ?? join(dirname(resolve(r.suite.file)), 'baseline.json');
        writeJson(out, baseline);
        if (flags.json) {
          const variants = Object.fromEntries(
            Object.entries(baseline.variants).map(([v, b]) => [v, { passRate: b.passRate, cases: Object.keys(b.passed).length, passedCases: Object.values(b.passed).filter(Boolean).length }]),
          );
          process.stdout.write(`${JSON.stringify({ baseline: out, runId: r.runId, suite: baseline.suite, split: baseline.split, approvedAt: baseline.approvedAt, variants }, null, 2)}\n`);
          return EXIT.pass;
        }
        const rates = Object.entries(baseline.variants).map(([v, b]) => `${v} ${(b.passRate * 100).toFixed(1)} %`).join(', ');
        process.stdout.write(`baseline ${out} approved from run ${r.runId} (${rates})\n`);
        return EXIT.pass;
      }),
    );

  cmd
    .command('review-export')
    .description('blind pairwise review: outputs as A/B in random order, model names stripped, key in a separate file')
    .requiredOption('-s, --suite <file>', 'suite file')
    .requiredOption('-o, --out <dir>', 'directory for review.jsonl, ratings.csv and key.json')
    .option('--run <dir>', 'run to take outputs from (default: the suite\'s run directory)')
    .option('--seed <n>', 'shuffle seed', positiveInt)
    .option('--json', 'print the written files and item count as JSON')
    .action((flags: { suite: string; out: string; run?: string; seed?: number; json?: boolean }) =>
      withExit(() => {
        const suite = loadSuiteFile(flags.suite);
        const r = readRun(flags.run ?? defaultRunDir(suite));
        if (!r.compare) throw new UsageError([`run ${r.runId} has no champion/challenger pair to review`]);
        const seed = flags.seed ?? suite.run.seed;
        const written = exportReview(r, r.compare, flags.out, seed);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ runId: r.runId, seed, ...written }, null, 2)}\n`);
          return EXIT.pass;
        }
        process.stdout.write(`${written.items} items → ${written.itemsFile}\nrate them in ${written.ratingsFile}; keep ${written.keyFile} away from reviewers\n`);
        return EXIT.pass;
      }),
    );

  cmd
    .command('review-import')
    .description('read blind-review ratings back: win/tie/loss, sign test, reviewer agreement')
    .argument('<file>', 'ratings CSV (item,reviewer,preference with preference A, B or tie)')
    .option('--key <file>', 'key file (default: key.json next to the ratings)')
    .option('--json', 'print JSON')
    .action((file: string, flags: { key?: string; json?: boolean }) =>
      withExit(() => {
        const keyFile = flags.key ?? join(dirname(file), 'key.json');
        if (!existsSync(keyFile)) throw new UsageError([`${keyFile}: key file not found (pass --key)`]);
        let summary;
        try {
          summary = importReview(file, keyFile);
        } catch (err) {
          throw new UsageError([(err as Error).message]);
        }
        process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : reviewMarkdown(summary));
        return EXIT.pass;
      }),
    );

  return cmd;
}

function runDir(path: string): string {
  return path.endsWith('.json') ? dirname(path) : path;
}
