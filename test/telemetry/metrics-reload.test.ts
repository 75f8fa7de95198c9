// PRODUCT.md section 7: every series for configured routes exists at 0 — also for a route, challenger
// or check that a config reload adds, so the alerts' champion/challenger ratios see both arms at once.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { metricValue } from '../helpers/gateway.js';

const config = (withNewRoute: boolean) => `
auth: { adminTokens: [{ name: sre, token: admin-token-0123456789 }] }
providers:
  sim: { type: simulator }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  b: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  demo:
    champion: a
${withNewRoute ? `  added:
    champion: a
    challenger: b
    rollout: { percent: 10 }
    sampling: { rate: 0.5 }
    checks: [{ name: valid_json, type: is-json }]` : ''}
`;

t.test('a route added by a config reload has its series at 0 before its first request', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, config(false));
  const gw = await startGateway({ config: loadConfigFile(file, {}), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), env: {} });
  t.teardown(() => gw.close());

  const before = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.equal(before.statusCode, 200);
  await before.body.text();

  writeFileSync(file, config(true));
  await gw.reload('test');
  const text = await (await request(`${gw.url}/metrics`)).body.text();

  for (const variant of ['champion', 'challenger']) {
    const model = variant === 'champion' ? 'a' : 'b';
    const arm = { route: 'added', variant, model };
    t.equal(metricValue(text, 'bellwether_requests_total', { ...arm, stream: 'false', outcome: 'error', error_class: 'upstream_5xx' }), 0, `${variant} error series`);
    t.equal(metricValue(text, 'bellwether_requests_total', { ...arm, stream: 'true', outcome: 'success', error_class: 'none' }), 0, `${variant} success series`);
    t.equal(metricValue(text, 'bellwether_request_duration_seconds_count', { ...arm, stream: 'false', outcome: 'success' }), 0, `${variant} duration`);
    t.equal(metricValue(text, 'bellwether_time_to_first_token_seconds_count', arm), 0, `${variant} ttft`);
    t.equal(metricValue(text, 'bellwether_cost_usd_total', arm), 0, `${variant} cost`);
    t.equal(metricValue(text, 'bellwether_tokens_total', { ...arm, type: 'output' }), 0, `${variant} tokens`);
    t.equal(metricValue(text, 'bellwether_quality_checks_total', { ...arm, check: 'valid_json', result: 'fail' }), 0, `${variant} check`);
    t.equal(metricValue(text, 'bellwether_samples_total', { route: 'added', variant, result: 'dropped' }), 0, `${variant} samples`);
    t.equal(metricValue(text, 'bellwether_inflight_requests', { route: 'added', variant }), 0, `${variant} in flight`);
  }
  t.equal(metricValue(text, 'bellwether_fallbacks_total', { route: 'added', variant: 'challenger', from_model: 'b', to_model: 'a' }), 0, 'fallbacks');
  t.equal(metricValue(text, 'bellwether_gateway_overhead_seconds_count', { route: 'added', stream: 'true' }), 0, 'overhead');
  // Counters and histograms never go back: the reload must not re-zero a series that has data.
  const served = { route: 'demo', variant: 'champion', model: 'a', stream: 'false', outcome: 'success' };
  t.equal(metricValue(text, 'bellwether_requests_total', { ...served, error_class: 'none' }), 1, 'the old route keeps its count');
  t.equal(metricValue(text, 'bellwether_request_duration_seconds_count', served), 1, 'and its histogram');
  t.equal(metricValue(text, 'bellwether_gateway_overhead_seconds_count', { route: 'demo', stream: 'false' }), 1, 'and its overhead');
});
