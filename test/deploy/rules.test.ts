// Alert and recording rules: valid, unit-tested with promtool, and only reading exported metrics.
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { checkMetricUses, exportedFamilies } from './metric-contract.js';
import { asArray, asString, fromRoot, isRecord, listFiles, readYaml, requireTool, ruleFiles, rulesDir, rulesOf, run } from './support.js';

const rules = ruleFiles.flatMap(rulesOf);
const alerts = rules.filter((r) => r.kind === 'alert');
const testFiles = listFiles(fromRoot('deploy', 'prometheus', 'tests'), '.yml');

t.test('promtool check rules accepts the rule files', async (t) => {
  const r = run(requireTool('promtool'), ['check', 'rules', ...ruleFiles]);
  t.equal(r.status, 0, r.output);
});

t.test('promtool test rules passes', async (t) => {
  t.ok(testFiles.length > 0, 'there are rule unit tests');
  const r = run(requireTool('promtool'), ['test', 'rules', ...testFiles], rulesDir);
  t.equal(r.status, 0, r.output);
});

t.test('the alerts the rollout needs exist, each tested both ways', async (t) => {
  const names = alerts.map((a) => a.name).sort();
  t.same(names, [
    'BellwetherChallengerCostRegression',
    'BellwetherChallengerErrorRateRegression',
    'BellwetherChallengerLatencyRegression',
    'BellwetherChallengerNoTraffic',
    'BellwetherChallengerQualityDrop',
    'BellwetherChallengerTTFTRegression',
    'BellwetherDown',
    'BellwetherNoTraffic',
    'BellwetherReplicaDown',
    'BellwetherRolloutStateStale',
    'BellwetherSamplesDropped',
    'BellwetherUserVisibleErrors',
  ]);

  const evals = testFiles.flatMap((file) => {
    const doc = readYaml(file);
    const tests = isRecord(doc) ? asArray(doc['tests']).filter(isRecord) : [];
    return tests.flatMap((x) => asArray(x['alert_rule_test']).filter(isRecord));
  });
  for (const name of names) {
    const mine = evals.filter((e) => e['alertname'] === name);
    t.ok(mine.some((e) => asArray(e['exp_alerts']).length > 0), `${name} has a case that must fire`);
    // Every firing case also carries series that must not fire (other routes in the same test),
    // and every alert is checked silent while still pending.
    t.ok(mine.some((e) => asArray(e['exp_alerts']).length === 0), `${name} has an evaluation that must stay silent`);
  }
});

t.test('every alert waits before firing', async (t) => {
  // A one-scrape blip must not page: every rule has a pending period.
  for (const a of alerts) t.ok(/^[1-9]\d*[smh]$/.test(String(a.for ?? '')), `${a.name} has a for: duration`);
});

t.test('rollout comparisons are guarded and relative to the champion', async (t) => {
  for (const a of alerts.filter((x) => x.name.startsWith('BellwetherChallenger') && x.name !== 'BellwetherChallengerNoTraffic')) {
    t.match(a.expr, /variant="champion"/, `${a.name} compares with the concurrent champion`);
    const guards = a.expr.match(/\* \d+ >= \d+\)/g) ?? [];
    t.equal(guards.length, 2, `${a.name} has a minimum-sample guard on each arm`);
  }
});

t.test('every alert is routable and has a runbook entry', async (t) => {
  const operating = fromRoot('deploy', 'OPERATING.md');
  const runbook = existsSync(operating) ? readFileSync(operating, 'utf8') : '';
  for (const a of alerts) {
    t.ok(['page', 'warning'].includes(String(a.labels['severity'])), `${a.name} severity is page or warning`);
    t.type(a.annotations['summary'], 'string', `${a.name} has a summary`);
    t.type(a.annotations['description'], 'string', `${a.name} has a description`);
    const link = asString(a.annotations['runbook']) ?? '';
    t.equal(link, `deploy/OPERATING.md#${a.name.toLowerCase()}`, `${a.name} links its runbook section`);
    t.match(runbook, new RegExp(`^#+ ${a.name}$`, 'm'), `deploy/OPERATING.md has a "${a.name}" heading`);
  }
});

t.test('every metric and label the rules read is in the gateway metric contract', async (t) => {
  const exported = await exportedFamilies();
  for (const r of rules) checkMetricUses(t, r.name, r.expr, exported);
});
