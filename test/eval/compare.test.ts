import t from 'tap';
import { compare, pickVariants } from '../../src/eval/compare.js';
import { comparisonMarkdown, junitXml, runMarkdown } from '../../src/eval/report.js';
import { approveBaseline, regressionGate } from '../../src/eval/baseline.js';
import { results, many } from './fixtures.js';
import type { RunResults } from '../../src/eval/results.js';

const run = (r: RunResults) =>
  compare({ champion: { results: r, variant: 'champion' }, challenger: { results: r, variant: 'challenger' }, decision: r.suite.decision });

t.test('regressions are sorted critical → difficulty → quality drop', (t) => {
  const r = results(
    many(20, [
      { id: 'easy-big', champ: true, chall: false, challQ: 0 },
      { id: 'easy-small', champ: true, chall: false, challQ: 0.6 },
      { id: 'adv', champ: true, chall: false, difficulty: 'adversarial' },
      { id: 'hard', champ: true, chall: false, difficulty: 'hard' },
      { id: 'crit-easy', champ: true, chall: false, critical: true, tags: ['invoice'] },
      { id: 'win', champ: false, chall: true },
    ]),
  );
  const c = run(r);
  t.same(c.regressions.map((d) => d.caseId), ['crit-easy', 'adv', 'hard', 'easy-big', 'easy-small']);
  t.same(c.wins.map((d) => d.caseId), ['win']);
  t.equal(c.regressions[0]?.challengerOutput, 'challenger says crit-easy');
  t.equal(c.regressions[0]?.failingChecks[0]?.name, 'valid_json');
  t.equal(c.stats.mcnemar.championOnly, 5);
  t.equal(c.stats.mcnemar.challengerOnly, 1);
  t.equal(c.verdict, 'dont-switch');
  t.match(c.reasons[0], /critical case\(s\).*crit-easy/);
  const hard = c.breakdown.difficulty.find((row) => row.key === 'hard');
  t.same(hard, { key: 'hard', n: 1, championPassRate: 1, challengerPassRate: 0, regressions: 1, wins: 0 });
  t.ok(c.breakdown.tag.some((row) => row.key === 'critical'));

  const md = comparisonMarkdown(c, 'demo');
  t.match(md, /^# Model-switch report: demo\n\n## Verdict: DON'T SWITCH/);
  t.ok(md.indexOf('crit-easy') < md.indexOf('`adv`'), 'report keeps the order');
  t.match(md, /exact McNemar: champion-only passes 5, challenger-only passes 1/);
  t.match(md, /minimum detectable difference/);
  t.end();
});

t.test('identical models on many cases: switch; on few cases: inconclusive with the MDD', (t) => {
  const big = run(results(many(400)));
  t.equal(big.verdict, 'switch');
  t.equal(big.stats.nonInferiority, 'non-inferior');
  const small = run(results(many(10, [{ id: 'x', champ: true, chall: false }, { id: 'y', champ: false, chall: true }])));
  t.equal(small.verdict, 'inconclusive');
  t.match(small.reasons.join('\n'), /too few|only differences of/);
  t.match(small.reasons.join('\n'), /about \d+ paired cases would detect a drop of 5\.0 points/, 'says what sample size would decide');
  t.end();
});

t.test('a handful of cases that all pass is not enough to switch', (t) => {
  // The percentile bootstrap of identical deltas is [0, 0]: three passing cases "proved" non-inferiority.
  const c = run(results(many(3)));
  t.equal(c.stats.nonInferiority, 'inconclusive');
  t.equal(c.verdict, 'inconclusive');
  t.ok(c.stats.passRateDelta.low < -c.stats.margin, `CI low ${c.stats.passRateDelta.low} reaches below the margin`);
  t.end();
});

t.test('a clearly worse challenger is inferior', (t) => {
  const specs = many(100, Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, champ: true, chall: false })));
  const c = run(results(specs));
  t.equal(c.stats.nonInferiority, 'inferior');
  t.equal(c.verdict, 'dont-switch');
  t.ok(c.stats.mcnemar.pValue < 1e-6);
  t.end();
});

t.test('an incomplete run is never a switch', (t) => {
  const c = run(results(many(400), { status: 'incomplete' }));
  t.equal(c.verdict, 'inconclusive');
  t.match(c.reasons[0], /incomplete/);
  t.end();
});

t.test('variants are picked from the suite or one per run', (t) => {
  const two = results(many(2));
  t.same(pickVariants(two, undefined), { champion: 'champion', challenger: 'challenger' });
  const a = results(many(2), { variants: ['champion'] });
  const b = results(many(2), { variants: ['challenger'] });
  t.same(pickVariants(a, b), { champion: 'champion', challenger: 'challenger' });
  t.throws(() => pickVariants(a, undefined));
  t.end();
});

t.test('regression gate: baseline, critical cases, threshold, incomplete', (t) => {
  const before = results(many(5, [{ id: 'flaky', champ: false, chall: false }]), { variants: ['champion'] });
  const baseline = approveBaseline(before, new Date(0));
  t.equal(baseline.variants.champion?.passed['same-0'], true);
  t.equal(regressionGate(before, baseline, 0.8).exitCode, 0, 'the approved run passes its own gate');

  const planted = results(many(5, [{ id: 'flaky', champ: false, chall: false }]).map((c) => (c.id === 'same-3' ? { ...c, champ: false } : c)), { variants: ['champion'] });
  const gate = regressionGate(planted, baseline, undefined);
  t.equal(gate.exitCode, 1);
  t.same(gate.findings.map((f) => f.kind), ['baseline-regression']);
  t.match(gate.findings[0]?.message, /same-3 passed in baseline run-1 and now fails/);

  const crit = results(many(3, [{ id: 'c', champ: false, chall: false, critical: true }]), { variants: ['champion'] });
  t.same(regressionGate(crit, undefined, undefined).findings.map((f) => f.kind), ['critical-failure']);
  t.same(regressionGate(before, undefined, 0.9).findings.map((f) => f.kind), ['pass-rate']);
  t.equal(regressionGate(results(many(3), { status: 'incomplete' }), undefined, undefined).exitCode, 2);
  t.throws(() => approveBaseline(results(many(3), { status: 'incomplete' })), /incomplete/);

  const xml = junitXml(planted, gate.findings);
  t.match(xml, /<testcase classname="demo.champion" name="same-3">\n\s+<failure/);
  t.match(xml, /regression-gate">\n\s+<failure message="1 finding\(s\)"/);
  t.match(runMarkdown(planted, gate.findings), /Regression gate: FAILED/);
  t.end();
});

t.test('a case that passed in the baseline and is now unscored, or no longer run, holds the gate', (t) => {
  const baseline = approveBaseline(results(many(4), { variants: ['champion'] }), new Date(0));
  // same-1 is unscored now (every judge answer invalid); same-3 was dropped from the suite.
  const now = results(many(3), { variants: ['champion'] });
  const unscored = now.cases.find((c) => c.caseId === 'same-1');
  if (unscored) unscored.score = { ...unscored.score, quality: null, passed: null };
  const gate = regressionGate(now, baseline, undefined);
  t.equal(gate.exitCode, 2, 'missing data is neither a pass nor a regression: exit 2');
  t.same(gate.findings.map((f) => [f.kind, f.caseId]), [['baseline-uncovered', 'same-1'], ['baseline-uncovered', 'same-3']]);
  t.match(gate.findings[0]?.message, /same-1 passed in baseline run-1 and is now unscored/);
  t.match(gate.findings[1]?.message, /same-3 passed in baseline run-1 and is missing from this run/);
  t.match(runMarkdown(now, gate.findings), /same-3 passed in baseline/);

  // A real regression alongside still exits 1.
  const worse = results(many(3).map((c) => (c.id === 'same-0' ? { ...c, champ: false } : c)), { variants: ['champion'] });
  t.equal(regressionGate(worse, baseline, undefined).exitCode, 1);
  t.end();
});

t.test('maxCostIncrease over a champion that cost $0 says the amounts, not "Infinity %"', (t) => {
  const r = results(many(400));
  const champ = r.summary.champion;
  if (champ) champ.economics = { ...champ.economics, costPerSuccessUsd: 0 };
  const c = compare({ champion: { results: r, variant: 'champion' }, challenger: { results: r, variant: 'challenger' }, decision: { ...r.suite.decision, block: { criticalRegression: true, maxCostIncrease: 0.3 } } });
  t.equal(c.verdict, 'dont-switch');
  const reason = c.reasons.join('\n');
  t.notMatch(reason, /Infinity|NaN/);
  t.match(reason, /cost per successful output rises from \$0 \(champion\) to \$0\.00\d+; no percentage increase \(allowed 30\.0 %\) covers a rise from \$0/);
  t.end();
});

t.test('a pair without a quality score on both sides is left out of the quality delta, and counted', (t) => {
  // Both pass, quality 1 on both sides, except one case whose challenger quality is missing.
  const r = results(many(20));
  const gap = r.cases.find((c) => c.variant === 'challenger' && c.caseId === 'same-0');
  if (gap) gap.score = { ...gap.score, quality: null };
  const c = run(r);
  t.equal(c.stats.qualityDelta.mean, 0, 'a missing quality is not a drop to 0');
  t.equal(c.stats.qualityDelta.pairs, 19);
  t.equal(c.stats.qualityDelta.missing, 1);
  t.match(comparisonMarkdown(c, 'demo'), /quality delta: .* over 19 pairs \(1 left out: no quality score on one side\)/);
  t.end();
});

t.test('JUnit escapes model output', (t) => {
  const r = results([{ id: 'a<&>"', champ: false, chall: false }], { variants: ['champion'] });
  const xml = junitXml(r);
  t.match(xml, /name="a&lt;&amp;&gt;&quot;"/);
  t.end();
});
