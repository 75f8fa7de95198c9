// A config reload reaches the sampling worker: a route that starts sampling is sampled and checked,
// and keys added by the reload are redacted from its records like the ones the gateway started with.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { metricValue, until } from '../helpers/gateway.js';

const ADMIN = 'admin-token-0123456789';
const OLD_CLIENT_KEY = 'team-a-key-0123456789abcdef';
const NEW_CLIENT_KEY = 'team-b-key-fedcba9876543210';

const config = (dir: string, withNewRoute: boolean) => `
auth:
  adminTokens: [{ name: sre, token: ${ADMIN} }]
  clientKeys:
    - { name: team-a, key: ${OLD_CLIENT_KEY} }
${withNewRoute ? `    - { name: team-b, key: ${NEW_CLIENT_KEY} }` : ''}
providers:
  sim: { type: simulator }
models:
  big: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  demo:
    champion: big
${withNewRoute ? `  added:
    champion: big
    sampling: { rate: 1 }
    checks: [{ name: valid_json, type: is-json, when: always }]` : ''}
datasets: { dir: ${join(dir, 'datasets')} }
`;

async function exported(url: string, name: string): Promise<string[]> {
  const res = await request(`${url}/admin/v1/datasets/${name}/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await res.body.text()).split('\n').filter(Boolean);
}

t.test('a route that starts sampling on reload is sampled, checked and redacted with the new keys', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, config(dir, false));
  const gw = await startGateway({ config: loadConfigFile(file, {}), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), env: {} });
  t.teardown(() => gw.close());

  writeFileSync(file, config(dir, true));
  await gw.reload('test');
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${NEW_CLIENT_KEY}` },
    body: JSON.stringify({ model: 'added', messages: [{ role: 'user', content: `my keys are ${NEW_CLIENT_KEY} and ${OLD_CLIENT_KEY}` }] }),
  });
  t.equal(res.statusCode, 200);
  await res.body.text();

  const lines = await until(() => exported(gw.url, 'added'), (l) => l.length > 0);
  t.equal(lines.length, 1, 'the request on the new route is in its dataset');
  t.notMatch(lines[0], NEW_CLIENT_KEY, 'a key added by the reload is redacted');
  t.notMatch(lines[0], OLD_CLIENT_KEY, 'and so is one the gateway started with');
  t.ok((JSON.parse(lines[0] ?? '{}') as { redactions: number }).redactions >= 2, 'counted in the record');

  const metrics = await (await request(`${gw.url}/metrics`)).body.text();
  const checked = ['pass', 'fail', 'error'].reduce((n, result) => n + (metricValue(metrics, 'bellwether_quality_checks_total', { route: 'added', check: 'valid_json', result }) ?? 0), 0);
  t.equal(checked, 1, 'the new route\'s online check ran');
  const stored = async () => metricValue(await (await request(`${gw.url}/metrics`)).body.text(), 'bellwether_samples_total', { route: 'added', variant: 'champion', result: 'stored' });
  t.equal(await until(stored, (n) => n === 1), 1, 'and the sample is counted');
});

t.test('a running sampling worker takes the reloaded keys and routes', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'gateway.yaml');
  const yaml = (extraKey: boolean) => `
auth:
  clientKeys:
    - { name: team-a, key: ${OLD_CLIENT_KEY} }
${extraKey ? `    - { name: team-b, key: ${NEW_CLIENT_KEY} }` : ''}
  adminTokens: [{ name: sre, token: ${ADMIN} }]
providers:
  sim: { type: simulator }
models:
  big: { provider: sim }
routes:
  demo: { champion: big, sampling: { rate: 1 } }
datasets: { dir: ${join(dir, 'datasets')} }
`;
  writeFileSync(file, yaml(false));
  const gw = await startGateway({ config: loadConfigFile(file, {}), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), env: {} });
  t.teardown(() => gw.close());
  writeFileSync(file, yaml(true));
  await gw.reload('test');
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${NEW_CLIENT_KEY}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: `the new key is ${NEW_CLIENT_KEY}` }] }),
  });
  t.equal(res.statusCode, 200);
  await res.body.text();
  const lines = await until(() => exported(gw.url, 'demo'), (l) => l.length > 0);
  t.equal(lines.length, 1);
  t.notMatch(lines[0], NEW_CLIENT_KEY, 'redacted by the worker that was already running');
});
