// The request path updates its series through cached children that write prom-client's series state in
// place (telemetry/metrics.ts). Whatever they record must read exactly as prom-client's own API would
// have recorded it: same exposition, counts, sums and buckets — including values above every bucket,
// series that already had observations, and the errors prom-client raises for invalid values.
import t from 'tap';
import { Metrics } from '../../src/telemetry/metrics.js';
import { parseConfig } from '../../src/config/load.js';

const config = parseConfig(
  `
providers: { sim: { type: simulator } }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 10 } }
  b: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 10 } }
routes: { r: { champion: a, challenger: b } }
`,
  'hot.yaml',
  {},
);

const fresh = () => new Metrics(config, { rollouts: () => [], defaultMetrics: false });

t.test('hot children and prom-client API produce the same exposition', async (t) => {
  const hot = fresh();
  const api = fresh();
  const durations = [0.0001, 0.05, 0.3, 2, 7.5, 1000, 0];
  for (const d of durations) {
    hot.hot.requestDuration.get('r', 'champion', 'a', 'false', 'success').observe(d);
    api.requestDuration.observe({ route: 'r', variant: 'champion', model: 'a', stream: 'false', outcome: 'success' }, d);
    hot.hot.overhead.get('r', 'false').observe(d / 1000);
    api.overhead.observe({ route: 'r', stream: 'false' }, d / 1000);
  }
  for (const n of [1, 2.5, 0]) {
    hot.hot.requests.get('r', 'challenger', 'b', 'true', 'success', 'none').inc(n);
    api.requests.inc({ route: 'r', variant: 'challenger', model: 'b', stream: 'true', outcome: 'success', error_class: 'none' }, n);
    hot.hot.cost.get('r', 'challenger', 'b').inc(n / 1e6);
    api.cost.inc({ route: 'r', variant: 'challenger', model: 'b' }, n / 1e6);
  }
  // A series the hot path has not seen yet is created on first use, at the right value.
  hot.hot.requests.get('r', 'champion', 'b', 'false', 'error', 'timeout').inc();
  api.requests.inc({ route: 'r', variant: 'champion', model: 'b', stream: 'false', outcome: 'error', error_class: 'timeout' });
  const inflight = hot.hot.inflight.get('r', 'champion');
  inflight.inc();
  inflight.inc();
  inflight.dec();
  api.inflight.inc({ route: 'r', variant: 'champion' });
  t.equal(await hot.registry.metrics(), await api.registry.metrics());
});

t.test('a series observed through the API before its hot child exists keeps its observations', async (t) => {
  const m = fresh();
  const labels = { route: 'r', variant: 'champion', model: 'a' } as const;
  m.ttft.observe(labels, 0.2);
  m.hot.ttft.get('r', 'champion', 'a').observe(0.4);
  const text = await m.registry.metrics();
  t.match(text, /bellwether_time_to_first_token_seconds_count\{route="r",variant="champion",model="a"\} 2/);
  t.match(text, /bellwether_time_to_first_token_seconds_sum\{route="r",variant="champion",model="a"\} 0\.6/);
});

t.test('invalid values are refused as prom-client refuses them', async (t) => {
  const m = fresh();
  t.throws(() => m.hot.cost.get('r', 'champion', 'a').inc(-1));
  t.throws(() => m.hot.requestDuration.get('r', 'champion', 'a', 'false', 'success').observe(Number.NaN));
});

t.test('label values are positional, in the order the series declares them', async (t) => {
  const m = fresh();
  m.hot.upstreamRequests.get('r', 'challenger', 'b', 'fake', 'retry', 'error', 'timeout').inc(3);
  t.match(await m.registry.metrics(), /bellwether_upstream_requests_total\{route="r",variant="challenger",model="b",provider="fake",attempt="retry",outcome="error",error_class="timeout"\} 3/);
  const wrong = m.hot.cost as unknown as { get(...values: string[]): unknown };
  t.throws(() => wrong.get('r', 'champion'), /expected 3 label values \(route, variant, model\), got 2/);
});
