import t from 'tap';
import { buildScorer, scoreCase, summarise, economics, failedCallScore, validateWithChecksLibrary, type JudgeOutcome } from '../../src/eval/score.js';
import type { Suite } from '../../src/eval/suite.js';
import type { CallRecord, CaseRun, RunResults } from '../../src/eval/results.js';
import { runMarkdown } from '../../src/eval/report.js';

const suite = {
  gates: [{ name: 'valid_json', type: 'is-json' }],
  dimensions: [
    { name: 'grounding', weight: 0.5, floor: 0.5, checks: [{ name: 'grounded', type: 'entities-in-source', source: 'text', path: 'entities' }] },
    { name: 'content', weight: 0.25, checks: [{ name: 'has_acme', type: 'contains', value: 'ACME' }, { name: 'has_bob', type: 'contains', value: 'Bob' }] },
    { name: 'style', weight: 0.25, checks: [{ name: 'tone', type: 'llm-rubric', rubric: 'r', labels: { good: 1, bad: 0 } }] },
  ],
  passThreshold: 0.7,
} as unknown as Suite;
const scorer = buildScorer(suite);
const judged = (o: JudgeOutcome) => new Map([['tone', o]]);
const good: JudgeOutcome = { result: 'pass', score: 1, reason: 'fine', label: 'good' };
const src = { text: 'ACME hired Bob in Paris.' };

t.test('weighted quality, gates, floors', (t) => {
  const s = scoreCase(scorer, { output: '{"entities":["ACME","Bob"]}', sources: src }, judged(good));
  t.equal(s.quality, 1);
  t.equal(s.passed, true);

  const half = scoreCase(scorer, { output: '{"entities":["ACME"]}', sources: src }, judged(good));
  t.equal(half.dimensions.content, 0.5, 'dimension = mean of its checks');
  t.equal(half.quality, 0.875);
  t.equal(half.passed, true);

  const bad = scoreCase(scorer, { output: '{"entities":["ACME", oops', sources: src }, judged(good));
  t.equal(bad.quality, 0, 'a failed gate forces 0');
  t.equal(bad.passed, false);
  t.same(bad.gateFailures, ['valid_json']);

  const floor = scoreCase(scorer, { output: '{"entities":["ACME","Bob","Zed","Quux","Mars"]}', sources: src }, judged(good));
  t.same(floor.floorFailures, ['grounding'], '2 of 5 grounded is under the 0.5 floor');
  t.equal(floor.passed, false);
  t.end();
});

t.test('an invalid judgement is never a 0', (t) => {
  const s = scoreCase(scorer, { output: '{"entities":["ACME","Bob"]}', sources: src }, judged({ result: 'invalid', score: null, reason: 'unparseable' }));
  t.equal(s.invalidJudgements, 1);
  t.equal(s.dimensions.style, null);
  t.equal(s.quality, null, 'no score rather than a made-up one');
  t.equal(s.passed, null, 'neither pass nor fail');
  const gated = scoreCase(scorer, { output: 'nope', sources: src }, judged({ result: 'invalid', score: null, reason: 'x' }));
  t.equal(gated.passed, false, 'a failed gate still fails the case');
  t.end();
});

t.test('suite validation goes through the checks library', (t) => {
  t.equal(validateWithChecksLibrary({ name: 'x', type: 'is-json' }), undefined);
  t.match(validateWithChecksLibrary({ name: 'x', type: 'bogus' }), /must be one of/);
  t.match(validateWithChecksLibrary({ name: 'x', type: 'regex', pattern: '(' }), /regex|pattern/i);
  t.end();
});

const call = (over: Partial<CallRecord> = {}): CallRecord => ({
  attempt: 1, status: 200, output: '', finishReason: 'stop', toolCalls: [], outputTokens: 10, costUsd: 0.01,
  latencyS: 0.2, gatewayAttempts: 1, model: 'm', requestId: 'r', cached: false, ...over,
});
const run = (id: string, passed: boolean, calls: CallRecord[]): CaseRun => ({
  caseId: id, variant: 'v', difficulty: 'easy', tags: [], critical: false, split: 'full', calls,
  score: passed ? { ...failedCallScore('x'), quality: 1, passed: true, gateFailures: [], checks: [] } : failedCallScore('x'),
});

t.test('economics: all spend over passing cases; cached calls carry no cost', (t) => {
  const runs = [
    run('a', true, [call()]),
    run('b', true, [call({ costUsd: 0.01 }), call({ attempt: 2, costUsd: 0.01 })]), // a retry
    run('c', false, [call({ costUsd: 0.02 })]),
    run('d', true, [call({ cached: true, costUsd: null, latencyS: null })]),
  ];
  const e = economics(runs, 1000);
  t.equal(e.pricedCases, 3);
  t.equal(e.cachedCalls, 1);
  t.ok(Math.abs((e.totalCostUsd ?? 0) - 0.05) < 1e-12);
  t.ok(Math.abs((e.costPerSuccessUsd ?? 0) - 0.025) < 1e-12, '0.05 spent for 2 successes');
  t.ok(Math.abs((e.successesPer1000Usd ?? 0) - 40000) < 1e-6);
  t.ok(Math.abs((e.monthlyCostUsd ?? 0) - (0.05 / 3) * 1000) < 1e-9);
  const s = summarise('v', runs, 1000);
  t.equal(s.passed, 3);
  t.equal(s.latency.samples, 4, 'cached call has no latency');
  t.equal(s.latency.label, 'offline');
  const none = economics([run('x', true, [call({ costUsd: null })])], 10);
  t.equal(none.costPerSuccessUsd, null, 'unpriced is unknown, never 0');
  t.equal(none.unpricedCalls, 1);
  t.end();
});

t.test('a case that fails a gate is not judged, and that is not an invalid judgement', (t) => {
  // The runner does not pay a judge to grade an answer a gate already failed; counting the judge
  // check as "invalid" made a challenger with many bad-JSON answers an *incomplete* run (exit 2)
  // instead of a regression.
  const gated = scoreCase(scorer, { output: 'not json', sources: src }, new Map());
  t.equal(gated.passed, false);
  t.equal(gated.quality, 0);
  t.equal(gated.invalidJudgements, 0, 'the judge was not asked because a gate failed');
  t.notOk(gated.checks.some((c) => c.type === 'llm-rubric' && c.result === 'invalid'));
  const s = summarise('v', [{ ...run('g', false, [call()]), score: gated }], 1000);
  t.equal(s.invalidJudgements, 0);
  t.equal(s.judgements, 0, 'no judgement was made');
  const unasked = scoreCase(scorer, { output: '{"entities":["ACME","Bob"]}', sources: src }, new Map());
  t.equal(unasked.invalidJudgements, 1, 'a judge missing when the gates passed is still invalid');
  t.end();
});

t.test('latency percentiles are over answers, not over errors', (t) => {
  // A challenger that fails fast (429s, 500s in 10 ms) looked faster than one that answers.
  const runs = [
    run('a', true, [call({ latencyS: 2 })]),
    run('b', true, [call({ latencyS: 2 })]),
    run('c', false, [call({ status: 500, latencyS: 0.01, costUsd: null, error: 'HTTP 500: boom' })]),
    run('d', false, [call({ status: 429, latencyS: 0.01, costUsd: null, error: 'HTTP 429: slow down' })]),
    run('e', false, [call({ status: 503, latencyS: 0.01, costUsd: null, error: 'HTTP 503: down' })]),
  ];
  const s = summarise('v', runs, 1000);
  t.equal(s.latency.samples, 2);
  t.equal(s.latency.p50S, 2);
  t.equal(s.callErrors, 3, 'errors are counted, separately');
  t.end();
});

t.test('a case that errored and recovered on retry still counts in cost per success; unknown cost is counted, not $0', (t) => {
  // The gateway sends no cost header on an error: the first attempt's cost is unknown. The case used
  // to drop out of the priced cases, so its success and its known spend were missing from the figures.
  const runs = [
    run('a', true, [call({ costUsd: 0.01 })]),
    run('b', true, [call({ status: 500, costUsd: null, error: 'HTTP 500: boom' }), call({ attempt: 2, costUsd: 0.03 })]),
  ];
  const e = economics(runs, 1000);
  t.equal(e.pricedCases, 2, 'the recovered case is measured');
  t.equal(e.unpricedCalls, 1, 'the errored call is counted as unknown cost');
  t.ok(Math.abs((e.totalCostUsd ?? 0) - 0.04) < 1e-12, 'known spend, retry included');
  t.ok(Math.abs((e.costPerSuccessUsd ?? 0) - 0.02) < 1e-12, '$0.04 known for 2 successes');
  const results = {
    schemaVersion: 1, runId: 'r1', suite: { name: 's', file: 's.yaml', passThreshold: 0.7, decision: { nonInferiorityMargin: 0.05, alpha: 0.05, block: { criticalRegression: true } } },
    split: 'full', startedAt: '', finishedAt: '', gatewayUrl: 'http://x', status: 'complete', incompleteReasons: [], variants: ['v'],
    cases: runs, summary: { v: summarise('v', runs, 1000) },
  } as RunResults;
  const md = runMarkdown(results);
  t.match(md, /\| cost per successful output \| ≥ \$0\.02000 \|/, 'the figure is a lower bound');
  t.match(md, /\| successes per \$1,000 \| ≤ 50000 \|/);
  t.match(md, /\| calls with unknown cost \| 1 \(not counted as \$0/);
  t.match(md, /\| priced cases \(live, uncached\) \| 2 of 2 \|/);
  const allUnknown = economics([run('x', true, [call({ status: 500, costUsd: null, error: 'HTTP 500' }), call({ attempt: 2, costUsd: null })])], 10);
  t.equal(allUnknown.costPerSuccessUsd, null, 'no known cost at all: unknown, not $0');
  t.equal(allUnknown.unpricedCalls, 2);
  t.end();
});
