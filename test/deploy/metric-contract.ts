import type { Test } from 'tap';
import { Metrics } from '../../src/telemetry/metrics.js';
import { loadConfigFile } from '../../src/config/load.js';
import { fromRoot, metricUses } from './support.js';

// The metric contract of PRODUCT.md section 7, as data, plus the prom-client default metrics the
// dashboard reads. The dashboard and alert rules may only use what is listed here; the end-to-end
// test (prometheus-e2e.test.ts) checks that a running gateway really exposes these names and types.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  type: MetricType;
  labels: readonly string[];
}

export const metricContract: Readonly<Record<string, MetricSpec>> = {
  bellwether_requests_total: { type: 'counter', labels: ['route', 'variant', 'model', 'stream', 'outcome', 'error_class'] },
  bellwether_request_duration_seconds: { type: 'histogram', labels: ['route', 'variant', 'model', 'stream', 'outcome'] },
  bellwether_time_to_first_token_seconds: { type: 'histogram', labels: ['route', 'variant', 'model'] },
  bellwether_time_per_output_token_seconds: { type: 'histogram', labels: ['route', 'variant', 'model'] },
  bellwether_upstream_requests_total: {
    type: 'counter',
    labels: ['route', 'variant', 'model', 'provider', 'attempt', 'outcome', 'error_class'],
  },
  bellwether_upstream_request_duration_seconds: { type: 'histogram', labels: ['route', 'variant', 'model', 'provider', 'outcome'] },
  bellwether_fallbacks_total: { type: 'counter', labels: ['route', 'variant', 'from_model', 'to_model', 'reason'] },
  bellwether_tokens_total: { type: 'counter', labels: ['route', 'variant', 'model', 'type'] },
  bellwether_cost_usd_total: { type: 'counter', labels: ['route', 'variant', 'model'] },
  bellwether_gateway_overhead_seconds: { type: 'histogram', labels: ['route', 'stream'] },
  bellwether_quality_checks_total: { type: 'counter', labels: ['route', 'variant', 'model', 'check', 'result'] },
  bellwether_feedback_total: { type: 'counter', labels: ['route', 'variant', 'rating'] },
  bellwether_samples_total: { type: 'counter', labels: ['route', 'variant', 'result'] },
  bellwether_rollout_challenger_ratio: { type: 'gauge', labels: ['route'] },
  bellwether_rollout_info: { type: 'gauge', labels: ['route', 'champion', 'challenger', 'mode', 'state'] },
  bellwether_inflight_requests: { type: 'gauge', labels: ['route', 'variant'] },
  // beyond section 7: the freshness of this replica's rollout state (BellwetherRolloutStateStale)
  bellwether_rollout_state_stale: { type: 'gauge', labels: [] },
  // prom-client collectDefaultMetrics(), registered without a prefix
  nodejs_eventloop_lag_p99_seconds: { type: 'gauge', labels: [] },
};

/** Labels Prometheus adds to every scraped series. */
export const targetLabels = ['job', 'instance'] as const;

export interface ResolvedUse {
  family: string;
  spec: MetricSpec;
  /** labels the series carries: the family's, `le` for buckets, and the target labels */
  labels: string[];
}

/**
 * Maps a series name as written in PromQL to its metric family: `_bucket`, `_count` and `_sum` are
 * only valid on histograms. Returns undefined for a name the contract does not have.
 */
export function resolveSeries(series: string, contract: Readonly<Record<string, MetricSpec>> = metricContract): ResolvedUse | undefined {
  const direct = contract[series];
  if (direct !== undefined) return { family: series, spec: direct, labels: [...direct.labels, ...targetLabels] };
  const m = series.match(/^(.+)_(bucket|count|sum)$/);
  const family = m?.[1];
  const spec = family === undefined ? undefined : contract[family];
  if (family === undefined || spec === undefined || spec.type !== 'histogram') return undefined;
  const extra = m?.[2] === 'bucket' ? ['le'] : [];
  return { family, spec, labels: [...spec.labels, ...extra, ...targetLabels] };
}

export interface ExportedFamily {
  type: string;
  /** label names seen on the series the gateway pre-creates at start-up */
  labels: Set<string>;
}

/**
 * What the gateway's own registry exports, read from its exposition text right after start-up
 * (with the shipped default config). Families come from `# TYPE` lines, so a family that is
 * registered but has no series yet still counts.
 */
export async function exportedFamilies(): Promise<Map<string, ExportedFamily>> {
  const config = loadConfigFile(fromRoot('config', 'default.yaml'), {});
  const metrics = new Metrics(config, { rollouts: () => [] });
  const text = await metrics.registry.metrics();
  const families = new Map<string, ExportedFamily>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1] ?? '', { type: m[2] ?? '', labels: new Set() });
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\}/gm)) {
    const series = m[1] ?? '';
    const family = families.get(series) ?? families.get(series.replace(/_(bucket|count|sum)$/, ''));
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) if (l[1] !== 'le') family?.labels.add(l[1] ?? '');
  }
  return families;
}

/**
 * Asserts that every metric an expression reads is in the contract and in the gateway's registry,
 * and that every label it matches on is one the metric has.
 */
export function checkMetricUses(t: Test, where: string, expr: string, exported: ReadonlyMap<string, ExportedFamily>): void {
  for (const use of metricUses(expr)) {
    const resolved = resolveSeries(use.series);
    t.ok(resolved && exported.has(resolved.family), `${where}: ${use.series} is in the contract and the gateway registry`);
    for (const label of use.matcherLabels) {
      t.ok(resolved?.labels.includes(label), `${where}: ${use.series} has label ${label}`);
    }
  }
}
