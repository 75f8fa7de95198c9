// The eval verbs as a user meets them: help text and --json output, without a gateway.
import t from 'tap';
import type { Command } from 'commander';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from '../../src/cli/eval.js';
import { writeJson } from '../../src/eval/results.js';
import { many, results } from './fixtures.js';

// Subcommands don't inherit exitOverride once built: without it, --help would end the test process.
function exitOverride(cmd: Command): Command {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverride(sub);
  return cmd;
}

/** Runs `bellwether eval …` in-process; returns the exit code and what it printed on stdout. */
async function bellwetherEval(...args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.exitCode = 0;
  try {
    await exitOverride(evalCommand()).parseAsync(args, { from: 'user' });
  } catch (err) {
    // --help ends in a CommanderError under exitOverride; anything else is a failure of the test.
    if ((err as { code?: string }).code !== 'commander.helpDisplayed') throw err;
  } finally {
    process.stdout.write = write;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout };
}

t.test('eval run --help says what the regression split gates on, and that it does not compare the arms', async (t) => {
  // A CI author read "--split regression" as "fails when the challenger regresses against the
  // champion"; without a baseline only critical cases and minPassRate can fail it.
  const { stdout } = await bellwetherEval('run', '--help');
  t.match(stdout, /--split regression\s+exit 1 when a case that passed in the --baseline now fails, a critical case\s+fails, or a variant's pass rate is under decision\.minPassRate/);
  t.match(stdout, /not compared with each other: without --baseline, a non-critical case the\s+champion passes and the challenger fails is listed in comparison\.md but does\s+not fail the build/);
  t.match(stdout, /--split full\s+exit 1 when the model-switch verdict is DON'T SWITCH/);
});

t.test('eval baseline approve --json and eval review-export --json print JSON for scripts', async (t) => {
  // Both verbs printed only a sentence: a script had to scrape "baseline X approved from run Y".
  const dir = mkdtempSync(join(tmpdir(), 'bw-eval-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = join(dir, 'run');
  writeJson(join(run, 'results.json'), results(many(4, [{ id: 'lost', champ: true, chall: false }]), { runId: 'run-7' }));

  const baselineFile = join(dir, 'baseline.json');
  const approved = await bellwetherEval('baseline', 'approve', run, '--out', baselineFile, '--json');
  t.equal(approved.code, 0);
  const a = JSON.parse(approved.stdout) as { baseline: string; runId: string; variants: Record<string, { passRate: number; cases: number; passedCases: number }> };
  t.equal(a.baseline, baselineFile);
  t.equal(a.runId, 'run-7');
  t.same(a.variants.champion, { passRate: 1, cases: 5, passedCases: 5 });
  t.same(a.variants.challenger, { passRate: 0.8, cases: 5, passedCases: 4 });
  t.ok(existsSync(baselineFile));

  const review = join(dir, 'review');
  const exported = await bellwetherEval('review-export', '--suite', 'evals/demo/suite.yaml', '--run', run, '--out', review, '--seed', '3', '--json');
  t.equal(exported.code, 0);
  const e = JSON.parse(exported.stdout) as Record<string, unknown>;
  t.same(e, {
    runId: 'run-7', seed: 3, items: 5,
    itemsFile: join(review, 'review.jsonl'), reviewFile: join(review, 'review.md'), ratingsFile: join(review, 'ratings.csv'), keyFile: join(review, 'key.json'),
  });
});
