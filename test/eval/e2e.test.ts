// The worked example end to end: the real gateway (in-process, embedded default config with its two
// simulated models), the demo suite, the CLI verbs and their exit codes — including the CI story:
// approve a baseline, plant a regression, watch the build fail.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from '../../src/cli/eval.js';
import type { RunResults } from '../../src/eval/results.js';

const SUITE = 'evals/demo/suite.yaml';
const tmp = mkdtempSync(join(tmpdir(), 'bw-eval-e2e-'));

/** Runs `bellwether eval …` in-process and returns its exit code (stdout goes to the TAP log). */
async function bellwetherEval(...args: string[]): Promise<number> {
  process.exitCode = 0;
  await evalCommand().exitOverride().parseAsync(args, { from: 'user' });
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return code;
}

/** Like bellwetherEval, and also returns what the command printed on stdout. */
async function bellwetherEvalOutput(...args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await bellwetherEval(...args), stdout };
  } finally {
    process.stdout.write = write;
  }
}

const readRun = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;

t.test('regression suite: approve a baseline, then a planted regression fails the build', async (t) => {
  const good = join(tmp, 'good');
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--split', 'regression', '--variant', 'champion', '--out', good, '--no-progress'), 0, 'the champion passes its regression suite');
  const results = readRun(good);
  t.equal(results.status, 'complete');
  t.ok(results.cases.every((c) => c.split === 'regression' && c.variant === 'champion'));
  t.ok(results.cases.every((c) => c.calls.every((k) => !k.cached && k.costUsd !== null && k.requestId)), 'cost and request id from the gateway headers');

  const baseline = join(tmp, 'baseline.json');
  t.equal(await bellwetherEval('baseline', 'approve', good, '--out', baseline), 0);
  t.ok(existsSync(baseline), 'baseline written only when approved');

  // The planted regression: the champion model now misses entities (a silent upstream model change).
  const planted = join(tmp, 'planted.yaml');
  const config = readFileSync('config/default.yaml', 'utf8');
  t.match(config, /recall: 1\.0/);
  writeFileSync(planted, config.replace('recall: 1.0', 'recall: 0.5'));
  const bad = join(tmp, 'bad');
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--split', 'regression', '--variant', 'champion', '--baseline', baseline, '--config', planted, '--out', bad, '--no-progress'), 1, 'exit 1: regression');
  const report = readFileSync(join(bad, 'report.md'), 'utf8');
  t.match(report, /Regression gate: FAILED/);
  t.match(report, /passed in baseline .* and now fails/);
  t.match(readFileSync(join(bad, 'junit.xml'), 'utf8'), /<failure message="\d+ finding\(s\)"/);

  // The champion's model changes in the config, the run directory stays: the answers cached for
  // sim-large must not be replayed as the new model's (they passed the gate for a model not serving).
  const swapped = join(tmp, 'swapped.yaml');
  t.match(config, /champion: sim-large/);
  t.match(config, /challenger: sim-small/);
  writeFileSync(swapped, config.replace('champion: sim-large', 'champion: sim-SMALL').replace('challenger: sim-small', 'challenger: sim-large').replace('sim-SMALL', 'sim-small'));
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--split', 'regression', '--variant', 'champion', '--baseline', baseline, '--config', swapped, '--out', good, '--no-progress'), 1, 'the new model is measured: exit 1');
  const remeasured = readRun(good);
  t.ok(remeasured.cases.every((c) => c.calls.every((k) => !k.cached && k.model === 'sim-small')), 'every answer comes from the model now serving, none from the cache');

  // Re-scoring the same run directory with the unchanged config replays the cache: no calls, so no cost or latency.
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--split', 'regression', '--variant', 'champion', '--out', good, '--no-progress'), 0, 'unchanged config: cached answers replayed');
  const rescored = readRun(good);
  t.ok(rescored.cases.every((c) => c.calls.every((k) => k.cached && k.costUsd === null && k.latencyS === null)), 'replays carry no cost or latency');
  t.equal(rescored.summary.champion?.economics.costPerSuccessUsd, null);
});

t.test('an unreachable gateway makes the run incomplete (exit 2); a bad suite is a config error (exit 3)', async (t) => {
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--url', 'http://127.0.0.1:9', '--out', join(tmp, 'down'), '--no-cache', '--no-progress'), 2);
  t.match(readRun(join(tmp, 'down')).incompleteReasons.join(), /could not reach the gateway/);
  const badSuite = join(tmp, 'bad-suite.yaml');
  writeFileSync(badSuite, readFileSync(SUITE, 'utf8').replace('passThreshold: 0.9', 'passThreshold: 0.9\nthreshold: 1'));
  t.equal(await bellwetherEval('run', '--suite', badSuite, '--out', join(tmp, 'x')), 3);
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--split', 'regression', '--fresh', '5', '--out', join(tmp, 'y')), 3, '--fresh needs --split full');
  // A baseline that has nothing for the variant being run gated nothing, silently: exit 0.
  const champOnly = join(tmp, 'champion-baseline.json');
  writeFileSync(champOnly, JSON.stringify({ kind: 'bellwether-eval-baseline', schemaVersion: 1, approvedAt: '', runId: 'r0', suite: 'demo-extraction', split: 'regression', variants: { champion: { passRate: 1, passed: {} } } }));
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--variant', 'challenger', '--baseline', champOnly, '--url', 'http://127.0.0.1:9', '--out', join(tmp, 'z'), '--no-progress'), 3, 'a baseline without the variant is a config error');
  // A run that crashes (here: the run directory cannot be created) has no verdict. Node's default
  // exit code for an uncaught error is 1, which CI reads as "regression".
  const notADir = join(tmp, 'a-file');
  writeFileSync(notADir, '');
  t.equal(await bellwetherEval('run', '--suite', SUITE, '--url', 'http://127.0.0.1:9', '--out', join(notADir, 'run'), '--no-progress'), 2, 'a crashed run is incomplete (exit 2), not a regression');
});

t.test('the warning that cached answers cannot be matched to models shows --url without its credentials', async (t) => {
  // CI logs keep stderr: a user:password@ or ?token= in the --url must not end up there.
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await bellwetherEval('run', '--suite', SUITE, '--url', 'http://ci:hunter2-password@127.0.0.1:9/?token=sk-query-token', '--out', join(tmp, 'creds'), '--no-progress');
  } finally {
    process.stderr.write = write;
  }
  t.equal(code, 2, 'unreachable: incomplete');
  t.match(stderr, /cannot read which models serve the routes at http:\/\/127\.0\.0\.1:9 \(admin API/);
  t.notMatch(stderr, /hunter2-password|sk-query-token/);
  const stored = readFileSync(join(tmp, 'creds', 'results.json'), 'utf8');
  t.match(stored, /could not reach the gateway at http:\/\/127\.0\.0\.1:9/);
  t.notMatch(stored, /hunter2-password|sk-query-token/, 'nor in results.json (incomplete reasons, gatewayUrl)');
});

t.test('the worked example: a model-switch report with verdict, regressions and statistics', async (t) => {
  const out = join(tmp, 'full');
  // The demo challenger fails a critical case the champion passes: DON'T SWITCH, and a full run whose
  // verdict is "don't switch" fails the build like a regression (exit 1), saying why on the terminal.
  const full = await bellwetherEvalOutput('run', '--suite', SUITE, '--split', 'full', '--out', out, '--no-progress');
  t.equal(full.code, 1, 'a full run whose verdict is DON\'T SWITCH exits 1');
  t.match(full.stdout, /verdict: dont-switch\n {2}- challenger fails \d+ critical case\(s\)/);
  const md = readFileSync(join(out, 'comparison.md'), 'utf8');
  t.match(md, /^# Model-switch report: demo-extraction\n\n## Verdict: DON'T SWITCH/);
  t.match(md, /## Regressions: challenger fails, champion passes \([1-9]\d*\)/);
  t.match(md, /## Wins: challenger passes, champion fails/);
  t.match(md, /exact McNemar/);
  t.match(md, /minimum detectable difference/);
  t.match(md, /latency p50 \/ p95 \(offline\)/);
  const results = readRun(out);
  t.notOk(results.cases.some((c) => c.split === 'holdout'), 'holdout cases never run in full');
  const champ = results.summary.champion;
  const chall = results.summary.challenger;
  t.ok(champ && chall && (chall.economics.costPerSuccessUsd ?? 1) < (champ.economics.costPerSuccessUsd ?? 0), 'challenger is cheaper per successful output');

  // compare the run with itself via the CLI verb (exit code encodes the verdict)
  const code = await bellwetherEval('compare', out, '--out', join(tmp, 'cmp'));
  t.ok([0, 1, 2].includes(code));
  t.ok(existsSync(join(tmp, 'cmp', 'comparison.json')));
  t.ok(existsSync(join(tmp, 'cmp', 'comparison-junit.xml')));
  // Same run, same numbers: `eval compare` bootstraps with the suite's seed, as `eval run` did.
  const own = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { stats: unknown; verdict: string };
  const again = JSON.parse(readFileSync(join(tmp, 'cmp', 'comparison.json'), 'utf8')) as { stats: unknown; verdict: string };
  t.same(again.stats, own.stats, 'eval compare reproduces the statistics of the run\'s own report');

  // blind review round trip
  const review = join(tmp, 'review');
  t.equal(await bellwetherEval('review-export', '--suite', SUITE, '--run', out, '--out', review), 0);
  const items = readFileSync(join(review, 'review.jsonl'), 'utf8');
  t.notMatch(items, /sim-large|sim-small|champion|challenger/, 'reviewers never see model or variant names');
  const ids = items.trim().split('\n').map((l) => (JSON.parse(l) as { item: string }).item);
  writeFileSync(join(review, 'ratings.csv'), `item,reviewer,preference\n${ids.map((id, i) => `${id},ann,${i % 3 === 0 ? 'A' : 'B'}\n${id},bob,${i % 3 === 0 ? 'A' : 'tie'}`).join('\n')}\n`);
  t.equal(await bellwetherEval('review-import', join(review, 'ratings.csv')), 0);
});
