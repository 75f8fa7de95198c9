/**
 * Renderers: the model-switch report (Markdown, verdict first), the run summary and JUnit XML for
 * CI. Pure string building from results/comparison objects; the JSON report is the object itself.
 */
import type { CaseDiff, Comparison } from './compare.js';
import type { CaseRun, RunResults, VariantSummary } from './results.js';

const VERDICT_TEXT = { switch: 'SWITCH', 'dont-switch': "DON'T SWITCH", inconclusive: 'INCONCLUSIVE' } as const;

const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const pts = (x: number) => (Number.isNaN(x) ? 'n/a' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`);
const usd = (x: number | null, digits = 5) => (x === null ? 'n/a' : `$${x.toFixed(digits)}`);
const num = (x: number | null, digits = 3) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
const secs = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(3)} s`);

/** A fence longer than any backtick run in the text, so model output can't break out of it. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}\n${text}\n${fence}`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** A cost figure over known spend only, when some calls' cost is unknown, is a bound, not a value. */
const bound = (v: VariantSummary, sign: string, text: string) => (v.economics.unpricedCalls > 0 && text !== 'n/a' ? `${sign}${text}` : text);

function summaryRows(s: VariantSummary[]): string[][] {
  const row = (label: string, f: (v: VariantSummary) => string) => [label, ...s.map(f)];
  return [
    row('cases (scored)', (v) => `${v.cases} (${v.scored})`),
    row('pass rate (Wilson 95 % CI)', (v) => `${pct(v.passRate.rate)} (${pct(v.passRate.low)} – ${pct(v.passRate.high)})`),
    row('mean quality', (v) => num(v.meanQuality)),
    row('invalid judge answers', (v) => `${v.invalidJudgements} / ${v.judgements}`),
    row('call errors', (v) => String(v.callErrors)),
    // Unknown-cost calls make the known spend a lower bound: say so next to every figure built on it.
    row('cost per successful output', (v) => bound(v, '≥ ', usd(v.economics.costPerSuccessUsd))),
    row('successes per $1,000', (v) => bound(v, '≤ ', num(v.economics.successesPer1000Usd, 0))),
    row('monthly cost', (v) => `${bound(v, '≥ ', usd(v.economics.monthlyCostUsd, 2))} at ${v.economics.monthlyVolume.toLocaleString('en-US')} req`),
    row('retries per case', (v) => num(v.economics.retriesPerCase, 2)),
    row('priced cases (live, uncached)', (v) => `${v.economics.pricedCases} of ${v.cases}${v.economics.cachedCalls > 0 ? `, ${v.economics.cachedCalls} cached calls` : ''}`),
    row('calls with unknown cost', (v) => (v.economics.unpricedCalls > 0 ? `${v.economics.unpricedCalls} (not counted as $0: cost figures are lower bounds)` : '0')),
    row('latency p50 / p95 (offline)', (v) => `${secs(v.latency.p50S)} / ${secs(v.latency.p95S)}`),
  ];
}

function caseBlock(d: CaseDiff, i: number, failedSide: 'challenger' | 'champion'): string {
  const flags = [d.critical ? '**critical**' : '', d.difficulty, ...d.tags.map((t) => `#${t}`)].filter(Boolean).join(', ');
  const checks = d.failingChecks.length
    ? d.failingChecks.map((c) => `- \`${c.name}\` (${c.role}, ${c.result}${c.score !== null ? `, ${c.score.toFixed(2)}` : ''}): ${c.reason}`).join('\n')
    : '- (no individual check failed; quality under the threshold)';
  return [
    `### ${i + 1}. \`${d.caseId}\` — ${flags}`,
    `quality ${num(d.championQuality, 2)} (champion) → ${num(d.challengerQuality, 2)} (challenger). Failing checks (${failedSide}):`,
    checks,
    '',
    '<details><summary>outputs</summary>',
    '',
    '**champion**',
    '',
    fenced(d.championOutput),
    '',
    '**challenger**',
    '',
    fenced(d.challengerOutput),
    '',
    '</details>',
  ].join('\n');
}

export function comparisonMarkdown(c: Comparison, suiteName: string): string {
  const s = c.stats;
  const bd = (rows: Comparison['breakdown']['difficulty']) =>
    rows.length === 0
      ? '_none_'
      : table(
          ['', 'cases', 'champion pass', 'challenger pass', 'regressions', 'wins'],
          rows.map((r) => [r.key, String(r.n), pct(r.championPassRate), pct(r.challengerPassRate), String(r.regressions), String(r.wins)]),
        );
  return [
    `# Model-switch report: ${suiteName}`,
    '',
    `## Verdict: ${VERDICT_TEXT[c.verdict]}`,
    '',
    ...c.reasons.map((r) => `- ${r}`),
    '',
    table(
      ['', `champion: ${c.champion.variant} (${c.champion.summary.models.join(', ') || 'n/a'})`, `challenger: ${c.challenger.variant} (${c.challenger.summary.models.join(', ') || 'n/a'})`],
      summaryRows([c.champion.summary, c.challenger.summary]),
    ),
    '',
    '_Latency here is offline (this run\'s round-trips through the gateway); decide on latency from live traffic._',
    '',
    `## Regressions: challenger fails, champion passes (${c.regressions.length})`,
    '',
    c.regressions.length ? c.regressions.map((d, i) => caseBlock(d, i, 'challenger')).join('\n\n') : '_none_',
    '',
    `## Wins: challenger passes, champion fails (${c.wins.length})`,
    '',
    c.wins.length ? c.wins.map((d, i) => caseBlock(d, i, 'champion')).join('\n\n') : '_none_',
    '',
    '## By difficulty',
    '',
    bd(c.breakdown.difficulty),
    '',
    '## By tag',
    '',
    bd(c.breakdown.tag),
    '',
    '## Paired statistics',
    '',
    `- paired cases: ${c.paired}${c.unpaired.length ? ` (not paired: ${c.unpaired.join(', ')})` : ''}`,
    `- pass rate on paired cases: champion ${pct(s.championPassRate)}, challenger ${pct(s.challengerPassRate)}`,
    `- exact McNemar: champion-only passes ${s.mcnemar.championOnly}, challenger-only passes ${s.mcnemar.challengerOnly}, p = ${num(s.mcnemar.pValue, 4)}`,
    `- pass-rate delta (challenger − champion): ${pts(s.passRateDelta.mean)} points, ${(s.passRateDelta.level * 100).toFixed(0)} % Newcombe score CI ${pts(s.passRateDelta.low)} to ${pts(s.passRateDelta.high)}`,
    `- quality delta: ${num(s.qualityDelta.mean)}, 95 % paired bootstrap CI ${num(s.qualityDelta.low)} to ${num(s.qualityDelta.high)} over ${s.qualityDelta.pairs} pairs${s.qualityDelta.missing > 0 ? ` (${s.qualityDelta.missing} left out: no quality score on one side)` : ''}`,
    `- non-inferiority at a ${(s.margin * 100).toFixed(1)}-point margin (alpha ${s.alpha}): **${s.nonInferiority}**`,
    `- minimum detectable difference (80 % power, alpha ${s.alpha}, discordant share ≤ ${pct(s.discordantRateUpper)}): ${Number.isNaN(s.minimumDetectableDifference) ? 'none at this sample size' : `${(s.minimumDetectableDifference * 100).toFixed(1)} points`} — "no significant difference" is not "no difference"`,
    '',
  ].join('\n');
}

export interface RegressionFinding {
  variant: string;
  caseId: string;
  /** `baseline-uncovered`: a case that passed in the baseline has no verdict in this run (unscored or not run) — missing data holds the gate (exit 2). */
  kind: 'baseline-regression' | 'critical-failure' | 'pass-rate' | 'incomplete' | 'baseline-uncovered';
  message: string;
}

export function runMarkdown(r: RunResults, findings: RegressionFinding[] = []): string {
  const summaries = r.variants.map((v) => r.summary[v]).filter((s): s is VariantSummary => s !== undefined);
  const failing = r.cases.filter((c) => c.score.passed !== true);
  return [
    `# Eval run ${r.runId}: ${r.suite.name} (${r.split})`,
    '',
    `status: **${r.status}**${r.incompleteReasons.length ? ` — ${r.incompleteReasons.join('; ')}` : ''}`,
    ...(findings.length ? ['', '## Regression gate: FAILED', '', ...findings.map((f) => `- ${f.message}`)] : []),
    '',
    table(['', ...r.variants], summaryRows(summaries)),
    '',
    `## Failing or unscored cases (${failing.length})`,
    '',
    failing.length
      ? table(
          ['variant', 'case', 'difficulty', 'quality', 'failing checks'],
          failing.map((c) => [c.variant, c.caseId + (c.critical ? ' (critical)' : ''), c.difficulty, num(c.score.quality, 2), failingChecks(c)]),
        )
      : '_none_',
    '',
  ].join('\n');
}

function failingChecks(c: CaseRun): string {
  return c.score.checks.filter((k) => k.result !== 'pass').map((k) => `${k.name}: ${k.result}`).join(', ');
}

const xml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch] as string)
    // XML 1.0 forbids most control characters; model output can contain them.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** JUnit XML: one testsuite per variant, one testcase per case, plus the regression gate. */
export function junitXml(r: RunResults, findings: RegressionFinding[] = []): string {
  const suites = r.variants.map((v) => {
    const cases = r.cases.filter((c) => c.variant === v);
    const failures = cases.filter((c) => c.score.passed === false).length;
    const errors = cases.filter((c) => c.score.passed === null).length;
    const body = cases.map((c) => {
      const name = `${xml(c.caseId)}`;
      const open = `    <testcase classname="${xml(`${r.suite.name}.${v}`)}" name="${name}">`;
      if (c.score.passed === true) return `${open}</testcase>`;
      const detail = xml(c.score.checks.filter((k) => k.result !== 'pass').map((k) => `${k.name} (${k.role}): ${k.result}: ${k.reason}`).join('\n'));
      const tag = c.score.passed === null ? 'error' : 'failure';
      return `${open}\n      <${tag} message="${xml(`quality ${num(c.score.quality, 2)}${c.critical ? ', critical' : ''}`)}">${detail}</${tag}>\n    </testcase>`;
    });
    return `  <testsuite name="${xml(`${r.suite.name}.${v}`)}" tests="${cases.length}" failures="${failures}" errors="${errors}">\n${body.join('\n')}\n  </testsuite>`;
  });
  const gate = [
    `  <testsuite name="${xml(`${r.suite.name}.regression-gate`)}" tests="1" failures="${findings.length ? 1 : 0}" errors="0">`,
    `    <testcase classname="${xml(r.suite.name)}" name="regression-gate">${findings.length ? `\n      <failure message="${findings.length} finding(s)">${xml(findings.map((f) => f.message).join('\n'))}</failure>\n    ` : ''}</testcase>`,
    '  </testsuite>',
  ].join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${xml(r.suite.name)}">\n${[...suites, gate].join('\n')}\n</testsuites>\n`;
}

/** JUnit for a model-switch comparison: one failing testcase per regression, plus the verdict. */
export function comparisonJunit(c: Comparison, suiteName: string): string {
  const name = xml(`${suiteName}.model-switch`);
  const regressions = c.regressions.map(
    (d) => `    <testcase classname="${name}" name="${xml(d.caseId)}">\n      <failure message="${xml(`challenger fails, champion passes${d.critical ? ' (critical)' : ''}`)}">${xml(d.failingChecks.map((k) => `${k.name}: ${k.reason}`).join('\n'))}</failure>\n    </testcase>`,
  );
  const verdictCase = c.verdict === 'switch'
    ? `    <testcase classname="${name}" name="verdict"></testcase>`
    : `    <testcase classname="${name}" name="verdict">\n      <failure message="${xml(VERDICT_TEXT[c.verdict])}">${xml(c.reasons.join('\n'))}</failure>\n    </testcase>`;
  const failures = regressions.length + (c.verdict === 'switch' ? 0 : 1);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${name}">\n  <testsuite name="${name}" tests="${regressions.length + 1}" failures="${failures}" errors="0">\n${[verdictCase, ...regressions].join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
