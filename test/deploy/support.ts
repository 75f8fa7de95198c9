// Shared by the deploy tests: where things are, how to run promtool, and what the dashboard and
// rules query. Not a test file itself (tap only runs *.test.ts).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const fromRoot = (...parts: string[]): string => join(repoRoot, ...parts);

/**
 * Absolute path of a Prometheus binary. Throws (so the test fails, never skips) when it is missing:
 * CI must install it, and a silently skipped check is a check that does not exist.
 */
export function requireTool(name: 'promtool' | 'prometheus'): string {
  const dirs = ['/usr/bin', ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new Error(
    `${name} not found in /usr/bin or on PATH. It comes from Debian's "prometheus" package: ` +
      `apt-get install -y prometheus (.ci/run does this before npm test).`,
  );
}

export interface RunResult {
  status: number | null;
  output: string;
}

export function run(file: string, args: string[], cwd = repoRoot): RunResult {
  const r = spawnSync(file, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export function readYaml(path: string): unknown {
  return parseYaml(readFileSync(path, 'utf8'));
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

export function listFiles(dir: string, ending: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(ending))
    .sort()
    .map((name) => join(dir, name));
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

// --- the dashboard ------------------------------------------------------------------------------

export const dashboardPath = fromRoot('dashboards', 'bellwether-rollout.json');

export interface Query {
  /** where the query lives, for messages: "panel 12 \"Request rate\" A" */
  where: string;
  expr: string;
  panelTitle?: string;
}

export function panelsOf(dashboard: unknown): Record<string, unknown>[] {
  const top = isRecord(dashboard) ? asArray(dashboard['panels']) : [];
  // Collapsed rows keep their panels inside the row.
  return top.filter(isRecord).flatMap((p) => [p, ...asArray(p['panels']).filter(isRecord)]);
}

/** Every PromQL expression in the dashboard: panel targets, annotations, and variable queries. */
export function dashboardQueries(dashboard: unknown): Query[] {
  const queries: Query[] = [];
  for (const panel of panelsOf(dashboard)) {
    const title = asString(panel['title']) ?? '';
    for (const t of asArray(panel['targets']).filter(isRecord)) {
      const expr = asString(t['expr']);
      if (expr !== undefined) {
        queries.push({ where: `panel ${String(panel['id'])} "${title}" ${String(t['refId'])}`, expr, panelTitle: title });
      }
    }
  }
  const annotations = isRecord(dashboard) && isRecord(dashboard['annotations']) ? dashboard['annotations'] : {};
  for (const a of asArray(annotations['list']).filter(isRecord)) {
    const expr = asString(a['expr']);
    if (expr !== undefined) queries.push({ where: `annotation "${String(a['name'])}"`, expr });
  }
  const templating = isRecord(dashboard) && isRecord(dashboard['templating']) ? dashboard['templating'] : {};
  for (const v of asArray(templating['list']).filter(isRecord)) {
    const q = isRecord(v['query']) ? asString(v['query']['query']) : undefined;
    // label_values(SELECTOR, label) is Grafana syntax; its SELECTOR is PromQL.
    const selector = q?.match(/^label_values\((.+),\s*\w+\)$/)?.[1];
    if (selector !== undefined) queries.push({ where: `variable $${String(v['name'])}`, expr: selector });
  }
  return queries;
}

/** Grafana's variables, replaced the way Grafana would at query time: route demo, all models. */
export function substituteTemplateVariables(expr: string, windows: { rateInterval?: string; interval?: string; range?: string } = {}): string {
  return expr
    .replaceAll('$__rate_interval', windows.rateInterval ?? '1m')
    .replaceAll('$__interval', windows.interval ?? '15s')
    .replaceAll('$__range', windows.range ?? '1h')
    .replaceAll('$route', 'demo')
    .replaceAll('$model', '.+');
}

// --- the rules ----------------------------------------------------------------------------------

export const rulesDir = fromRoot('deploy', 'prometheus');
export const ruleFiles = [join(rulesDir, 'recording.yml'), join(rulesDir, 'alerts.yml')];

export interface Rule {
  name: string;
  kind: 'record' | 'alert';
  expr: string;
  labels: Record<string, unknown>;
  annotations: Record<string, unknown>;
  /** the alert's pending period (`for:`), if any */
  for?: string;
}

export function rulesOf(file: string): Rule[] {
  const doc = readYaml(file);
  const groups = isRecord(doc) ? asArray(doc['groups']) : [];
  return groups.filter(isRecord).flatMap((g) =>
    asArray(g['rules']).filter(isRecord).map((r): Rule => {
      const alert = asString(r['alert']);
      return {
        name: alert ?? asString(r['record']) ?? '',
        kind: alert === undefined ? 'record' : 'alert',
        expr: asString(r['expr']) ?? '',
        labels: isRecord(r['labels']) ? r['labels'] : {},
        annotations: isRecord(r['annotations']) ? r['annotations'] : {},
        ...(asString(r['for']) === undefined ? {} : { for: asString(r['for']) }),
      };
    }),
  );
}

// --- metric names in PromQL ---------------------------------------------------------------------

export interface MetricUse {
  /** the name as written: bellwether_request_duration_seconds_bucket */
  series: string;
  /** label names in the selector's matchers: {route=~"...", outcome="error"} -> route, outcome */
  matcherLabels: string[];
}

/**
 * Metric selectors in an expression. Recording-rule names (with a colon) are not metrics and are
 * left out. Good enough for our own expressions, which never put metric names inside strings.
 */
export function metricUses(expr: string): MetricUse[] {
  const uses: MetricUse[] = [];
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of withoutStrings.matchAll(/(?<![\w:])((?:bellwether|nodejs)_[a-z0-9_]+)(?![\w:(])(\{[^}]*\})?/g)) {
    const matchers = m[2] ?? '';
    uses.push({
      series: m[1] ?? '',
      matcherLabels: [...matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1] ?? ''),
    });
  }
  return uses;
}
