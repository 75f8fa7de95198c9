// bench:sampling pools its runs per revision of the code: the statistics and the history file.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRun, describePooled, meanInterval, pool, readRuns, studentT975, type SamplingRun } from '../../bench/sampling-history.js';
import { codeRevision, gitCommit } from '../../bench/revision.js';

const run = (o: Partial<SamplingRun>): SamplingRun => ({
  at: '2026-11-28T00:00:00.000Z',
  revision: 'abc1234',
  commit: 'abc1234',
  node: 'v20.20.2',
  workload: 'unique prompts',
  seconds: 5,
  rounds: [{ off: 4000, on: 3700 }],
  cost: 0.075,
  dropped: 0,
  ...o,
});

t.test("Student's t quantiles and the interval of a mean", async (t) => {
  t.equal(studentT975(1), 12.706);
  t.equal(studentT975(10), 2.228);
  t.equal(studentT975(30), 2.042);
  // Exact values: 2.0395 (31), 1.9840 (100), 1.9600 (∞).
  t.ok(Math.abs(studentT975(31) - 2.0395) < 0.005 && Math.abs(studentT975(100) - 1.984) < 0.002, 'beyond the table, close to the exact quantile');
  t.ok(Math.abs(studentT975(100_000) - 1.96) < 0.001);
  t.throws(() => studentT975(0), RangeError);
  const { mean, low, high } = meanInterval([5, 7, 9]);
  t.equal(mean, 7);
  // sd 2, n 3, t(2) 4.303: 7 ± 4.303 · 2 / √3
  t.ok(Math.abs(low - (7 - (4.303 * 2) / Math.sqrt(3))) < 1e-9 && Math.abs(high - (7 + (4.303 * 2) / Math.sqrt(3))) < 1e-9, `${low} … ${high}`);
  t.same(meanInterval([4]), { mean: 4, low: NaN, high: NaN }, 'one value has no interval');
  t.same(meanInterval([]), { mean: NaN, low: NaN, high: NaN });
});

t.test('runs are pooled per revision, workload and round settings, and only runs that dropped no sample', async (t) => {
  const runs = [
    run({ cost: 0.06 }),
    run({ cost: 0.08, node: 'v24.22.3' }),
    run({ cost: 0.07 }),
    run({ cost: 0.5, revision: 'other' }),
    run({ cost: 0.5, workload: 'same prompt' }),
    run({ cost: 0.01, dropped: 3 }),
    run({ cost: 0.01, seconds: 1 }),
    run({ cost: 0.01, rounds: [] }),
  ];
  const p = pool(runs, run({}));
  t.equal(p.runs, 3);
  t.same(p.nodes, ['v20.20.2', 'v24.22.3']);
  t.ok(Math.abs(p.mean - 0.07) < 1e-12);
  t.ok(p.low < 0.07 && p.high > 0.07);
});

t.test('the pooled verdict: under, over, undecided, too few runs', async (t) => {
  const pooled = (mean: number, low: number, high: number, runs = 5) => ({ runs, nodes: ['v20.20.2'], mean, low, high });
  t.match(describePooled(pooled(0.07, 0.05, 0.09), 0.1), /pooled over 5 runs .*mean 7\.0 %, 95 % interval 5\.0 % … 9\.0 % \(PASS: the interval lies under 10\.0 %\)/);
  t.match(describePooled(pooled(0.14, 0.11, 0.17), 0.1), /FAIL: the interval lies over 10\.0 %/);
  t.match(describePooled(pooled(0.09, 0.07, 0.11), 0.1), /not decided: 10\.0 % lies inside the interval/);
  t.match(describePooled(pooled(0.07, NaN, NaN, 1), 0.1), /^1 run of this code so far/);
  t.match(describePooled(pooled(NaN, NaN, NaN, 0), 0.1), /^no run of this code/);
});

t.test('the history file: appended a line per run, a torn line skipped', async (t) => {
  const file = join(t.testdir(), 'results', 'sampling-runs.jsonl');
  t.same(readRuns(file), [], 'no file yet');
  appendRun(file, run({ cost: 0.06 }));
  appendFileSync(file, '{"at":"2026-11-28T00:00:00.000Z","revi');
  appendFileSync(file, '\n');
  appendRun(file, run({ cost: 0.08 }));
  t.same(readRuns(file).map((r) => r.cost), [0.06, 0.08]);
});

t.test('the revision: a digest of the code, whatever the commit; uncommitted and new files count, prose does not', async (t) => {
  // Outside this repository, which would otherwise answer for a folder inside it.
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-revision-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'src', 'README.md'), 'x\n');
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' }).trim();
  t.equal(codeRevision(dir), undefined, 'not a git checkout');
  t.equal(gitCommit(dir), undefined);
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'one');
  const first = codeRevision(dir);
  t.match(first, /^[0-9a-f]{12}$/);
  t.equal(gitCommit(dir), git('rev-parse', '--short', 'HEAD'));

  writeFileSync(join(dir, 'src', 'README.md'), 'y\n');
  git('commit', '-qam', 'prose');
  t.equal(codeRevision(dir), first, 'a commit that changes only prose is the same code');

  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 2;\n');
  const edited = codeRevision(dir);
  t.not(edited, first, 'an uncommitted edit is other code');
  git('commit', '-qam', 'two');
  t.equal(codeRevision(dir), edited, 'the same code once committed');

  writeFileSync(join(dir, 'src', 'b.ts'), 'export const b = 1;\n');
  const added = codeRevision(dir);
  t.not(added, edited, 'a new file counts');
  writeFileSync(join(dir, 'src', 'b.ts'), 'export const b = 2;\n');
  t.not(codeRevision(dir), added, 'and so does its content');
});
