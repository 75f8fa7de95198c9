// The eval verbs as a user meets them: help text and --json output, without a gateway.
import t from 'tap';
import type { Command } from 'commander';
import { evalCommand } from '../../src/cli/eval.js';

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
