/**
 * The CI regression gate. Three rules (NOTES.md): a pass-rate threshold, "no case that passed in the
 * approved baseline now fails" (plus: no critical case fails), and "an incomplete run fails".
 * Baselines are written only by `eval baseline approve`, never as a side effect of a run.
 */
import { readFileSync } from 'node:fs';
import type { RegressionFinding } from './report.js';
import type { RunResults } from './results.js';

export interface Baseline {
  kind: 'bellwether-eval-baseline';
  schemaVersion: 1;
  approvedAt: string;
  runId: string;
  suite: string;
  split: string;
  variants: Record<string, { passRate: number; passed: Record<string, boolean> }>;
}

export const EXIT = { pass: 0, regression: 1, incomplete: 2, config: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function approveBaseline(r: RunResults, now = new Date()): Baseline {
  // An incomplete run would bake unscored cases into the baseline as failures.
  if (r.status !== 'complete') throw new Error(`run ${r.runId} is incomplete (${r.incompleteReasons.join('; ')}); it cannot be a baseline`);
  const variants: Baseline['variants'] = {};
  for (const v of r.variants) {
    const cases = r.cases.filter((c) => c.variant === v);
    variants[v] = {
      passRate: r.summary[v]?.passRate.rate ?? Number.NaN,
      passed: Object.fromEntries(cases.map((c) => [c.caseId, c.score.passed === true])),
    };
  }
  return { kind: 'bellwether-eval-baseline', schemaVersion: 1, approvedAt: now.toISOString(), runId: r.runId, suite: r.suite.name, split: r.split, variants };
}

export function readBaseline(file: string): Baseline {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Baseline>;
  if (parsed.kind !== 'bellwether-eval-baseline' || parsed.schemaVersion !== 1 || typeof parsed.variants !== 'object') {
    throw new Error(`${file}: not a Bellwether eval baseline (write one with "bellwether eval baseline approve RUN")`);
  }
  return parsed as Baseline;
}

export function regressionGate(
  r: RunResults,
  baseline: Baseline | undefined,
  minPassRate: number | undefined,
): { exitCode: ExitCode; findings: RegressionFinding[] } {
  const findings: RegressionFinding[] = [];
  for (const v of r.variants) {
    const cases = r.cases.filter((c) => c.variant === v);
    const base = baseline?.variants[v];
    for (const c of cases) {
      if (c.score.passed === null && base?.passed[c.caseId] === true) {
        findings.push({ variant: v, caseId: c.caseId, kind: 'baseline-uncovered', message: `${v}: case ${c.caseId} passed in baseline ${baseline?.runId} and is now unscored` });
      }
      if (c.score.passed !== false) continue;
      if (base?.passed[c.caseId] === true) {
        findings.push({ variant: v, caseId: c.caseId, kind: 'baseline-regression', message: `${v}: case ${c.caseId} passed in baseline ${baseline?.runId} and now fails` });
      } else if (c.critical) {
        findings.push({ variant: v, caseId: c.caseId, kind: 'critical-failure', message: `${v}: critical case ${c.caseId} fails` });
      }
    }
    // A protected case that silently left the suite (or the split) is protected no more.
    const ran = new Set(cases.map((c) => c.caseId));
    for (const [caseId, passed] of Object.entries(base?.passed ?? {})) {
      if (passed && !ran.has(caseId)) {
        findings.push({ variant: v, caseId, kind: 'baseline-uncovered', message: `${v}: case ${caseId} passed in baseline ${baseline?.runId} and is missing from this run (run the baseline's split "${baseline?.split}", or approve a new baseline if it was removed on purpose)` });
      }
    }
    const rate = r.summary[v]?.passRate.rate;
    if (minPassRate !== undefined && rate !== undefined && !(rate >= minPassRate)) {
      findings.push({ variant: v, caseId: '', kind: 'pass-rate', message: `${v}: pass rate ${(rate * 100).toFixed(1)} % is below the threshold ${(minPassRate * 100).toFixed(1)} %` });
    }
  }
  if (baseline && baseline.suite !== r.suite.name) {
    findings.push({ variant: '', caseId: '', kind: 'baseline-regression', message: `baseline is for suite "${baseline.suite}", this run is "${r.suite.name}"` });
  }
  if (r.status !== 'complete') {
    const incomplete = r.incompleteReasons.map((m): RegressionFinding => ({ variant: '', caseId: '', kind: 'incomplete', message: `incomplete: ${m}` }));
    return { exitCode: EXIT.incomplete, findings: [...incomplete, ...findings] };
  }
  // A known regression outranks missing data; missing data alone holds the gate (exit 2), never passes it.
  const regressed = findings.some((f) => f.kind !== 'baseline-uncovered');
  return { exitCode: regressed ? EXIT.regression : findings.length > 0 ? EXIT.incomplete : EXIT.pass, findings };
}
