// When after-response processing falls behind, requests beyond the backlog are skipped; the ones the
// route would have sampled are counted as dropped samples — and only those.
import t from 'tap';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { RequestLedger } from '../../src/gateway/ledger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { createSamplingPipeline } from '../../src/sampling/pipeline.js';
import { metricValue } from '../helpers/gateway.js';

const yaml = (dir: string) => `
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes:
  never: { champion: a, sampling: { rate: 0, keepErrors: false } }
  always: { champion: a, sampling: { rate: 1 } }
datasets: { dir: ${dir} }
`;

t.test('a full backlog counts the samples it loses, not every request it skips', async (t) => {
  const config = parseConfig(yaml(t.testdir()), 'backlog.yaml', {});
  const metrics = new Metrics(config, { rollouts: () => [], defaultMetrics: false });
  const pipeline = createSamplingPipeline(config, metrics, pino({ level: 'silent' }), [], 1);
  t.teardown(() => pipeline.close(1000));
  const ledger = (route: string, i: number) => new RequestLedger(`req-${route}-${i}`, 'chat', config.routes[route]!, 'champion', false, false, 'anonymous', {});

  // Synchronously: nothing is processed in between, so all but the first of each burst are skipped.
  for (let i = 0; i < 5; i++) pipeline.listener(ledger('never', i));
  const text = async () => metrics.registry.metrics();
  t.equal(metricValue(await text(), 'bellwether_samples_total', { route: 'never', variant: 'champion', result: 'dropped' }), 0, 'rate 0: nothing lost');
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 5; i++) pipeline.listener(ledger('always', i));
  t.equal(metricValue(await text(), 'bellwether_samples_total', { route: 'always', variant: 'champion', result: 'dropped' }), 4, 'rate 1: every skipped request was a sample');
});
