// The rollout dashboard is provisionable as is, every query in it is valid PromQL, and it only reads
// metrics and labels the gateway exports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { checkMetricUses, exportedFamilies } from './metric-contract.js';
import {
  asArray,
  asString,
  dashboardPath,
  dashboardQueries,
  isRecord,
  panelsOf,
  readJson,
  requireTool,
  run,
  substituteTemplateVariables,
} from './support.js';

const dashboard = readJson(dashboardPath);
const panels = panelsOf(dashboard);
const queries = dashboardQueries(dashboard);
const root = isRecord(dashboard) ? dashboard : {};

t.test('is a provisionable dashboard with a stable uid and template variables', async (t) => {
  t.equal(root['uid'], 'bellwether-rollout', 'stable uid: links and provisioning rely on it');
  t.type(root['title'], 'string');
  t.ok(typeof root['schemaVersion'] === 'number', 'classic JSON model with a schemaVersion');
  t.notOk('id' in root && root['id'] !== null, 'no database id (provisioning assigns one)');

  const vars = asArray(isRecord(root['templating']) ? root['templating']['list'] : undefined).filter(isRecord);
  const byName = new Map(vars.map((v) => [asString(v['name']), v]));
  t.equal(byName.get('datasource')?.['type'], 'datasource', '$datasource picks any Prometheus');
  t.equal(byName.get('datasource')?.['query'], 'prometheus');
  for (const name of ['route', 'model']) {
    const v = byName.get(name);
    t.equal(v?.['type'], 'query', `$${name} is a query variable`);
    t.equal(v?.['includeAll'], true, `$${name} offers All`);
  }

  const ids = panels.map((p) => p['id']);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels) {
    const ds = p['datasource'];
    if (p['type'] === 'row') continue;
    t.same(ds, { type: 'prometheus', uid: '${datasource}' }, `panel "${String(p['title'])}" uses $datasource`);
    for (const target of asArray(p['targets']).filter(isRecord)) {
      t.same(target['datasource'], { type: 'prometheus', uid: '${datasource}' }, `panel "${String(p['title'])}" target uses $datasource`);
    }
  }
});

t.test('has the panels SREs need during a rollout', async (t) => {
  const titles = panels.filter((p) => p['type'] !== 'row').map((p) => String(p['title']));
  const text = (title: string): string =>
    asArray(panels.find((p) => p['title'] === title)?.['targets'])
      .filter(isRecord)
      .map((x) => String(x['expr']))
      .join('\n');
  const required: [RegExp, RegExp][] = [
    [/challenger share/i, /bellwether_rollout_challenger_ratio[\s\S]*variant="challenger"/],
    [/^request rate/i, /bellwether_requests_total/],
    [/error ratio/i, /outcome="error"/],
    [/errors by class/i, /error_class/],
    [/retries and fallbacks/i, /attempt="retry"[\s\S]*bellwether_fallbacks_total/],
    [/request duration/i, /histogram_quantile\(0\.5,[\s\S]*histogram_quantile\(0\.95,[\s\S]*histogram_quantile\(0\.99,/],
    [/time to first token/i, /bellwether_time_to_first_token_seconds_bucket/],
    [/tokens per second/i, /bellwether_tokens_total/],
    [/cost per request and per successful/i, /outcome="success"/],
    [/spend rate/i, /bellwether_cost_usd_total/],
    [/quality check pass rate/i, /bellwether_quality_checks_total/],
    [/feedback/i, /bellwether_feedback_total/],
    [/in-flight/i, /bellwether_inflight_requests/],
    [/event-loop lag/i, /nodejs_eventloop_lag_p99_seconds/],
    [/latency ratio/i, /variant=~"challenger\|shadow"[\s\S]*\/[\s\S]*variant="champion"/],
  ];
  for (const [title, expr] of required) {
    const found = titles.find((x) => title.test(x));
    t.ok(found, `a panel titled ${String(title)}`);
    if (found !== undefined) t.match(text(found), expr, `"${found}" queries ${String(expr)}`);
  }

  const annotations = asArray(isRecord(root['annotations']) ? root['annotations']['list'] : undefined).filter(isRecord);
  const exprs = annotations.map((a) => String(a['expr'] ?? ''));
  t.ok(exprs.some((e) => /changes\(bellwether_rollout_challenger_ratio/.test(e)), 'annotates challenger share changes');
  t.ok(exprs.some((e) => /bellwether_rollout_info[\s\S]*unless[\s\S]*offset/.test(e)), 'annotates rollout state changes');
});

t.test('champion and challenger keep fixed colours on every per-arm panel', async (t) => {
  const colourOf = (p: Record<string, unknown>, arm: string): unknown => {
    const fc = isRecord(p['fieldConfig']) ? p['fieldConfig'] : {};
    const override = asArray(fc['overrides'])
      .filter(isRecord)
      .find((o) => isRecord(o['matcher']) && new RegExp(String(o['matcher']['options']).slice(1, -1)).test(`${arm} p95`));
    const prop = asArray(override?.['properties']).filter(isRecord).find((x) => x['id'] === 'color');
    return prop?.['value'];
  };
  const perArm = panels.filter(
    (p) => p['type'] === 'timeseries' && asArray(p['targets']).filter(isRecord).some((x) => String(x['legendFormat']).startsWith('{{variant}}')),
  );
  t.ok(perArm.length >= 10, `${perArm.length} panels compare arms`);
  for (const p of perArm) {
    t.same(colourOf(p, 'champion'), { mode: 'fixed', fixedColor: 'blue' }, `"${String(p['title'])}": champion is blue`);
    t.same(colourOf(p, 'challenger'), { mode: 'fixed', fixedColor: 'orange' }, `"${String(p['title'])}": challenger is orange`);
  }
});

t.test('every query is valid PromQL (promtool check rules)', async (t) => {
  t.ok(queries.length >= 30, `${queries.length} queries found`);
  const promtool = requireTool('promtool');
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-dashboard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const rules = queries.map((q, i) => {
    const expr = substituteTemplateVariables(q.expr);
    t.notMatch(expr, /\$/, `${q.where}: no unknown template variable left`);
    return { record: `dashboard:query_${i}`, expr };
  });
  const file = join(dir, 'dashboard-queries.yml');
  writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
  const r = run(promtool, ['check', 'rules', file]);
  // promtool names the failing rule by index; map it back to the panel.
  const located = r.output.replace(/dashboard:query_(\d+)/g, (_, i: string) => queries[Number(i)]?.where ?? i);
  t.equal(r.status, 0, `promtool check rules on ${queries.length} dashboard queries\n${located}`);
});

t.test('every metric and label the dashboard reads is in the gateway metric contract', async (t) => {
  const exported = await exportedFamilies();
  for (const q of queries) checkMetricUses(t, q.where, q.expr, exported);
});
