// PRODUCT.md section 4: other /v1/* paths pass through to the champion's provider — the champion of
// now, not of start-up — with the provider's key in place of anything the client sent.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { ADMIN_TOKEN, admin } from '../rollout/support.js';

const CLIENT_KEY = 'client-key-abcdef-123456';
const KEY_A = 'sk-provider-a-0123456789';
const KEY_B = 'sk-provider-b-9876543210';

const yaml = (a: FakeUpstream, b: FakeUpstream, champion: string, challenger: string) => `
auth:
  clientKeys: [{ name: app, key: ${CLIENT_KEY} }]
  adminTokens: [{ name: alice, token: ${ADMIN_TOKEN} }]
providers:
  pa: { type: openai-compatible, baseUrl: "${a.url}/v1", apiKey: ${KEY_A} }
  pb: { type: openai-compatible, baseUrl: "${b.url}/v1", apiKey: ${KEY_B} }
models:
  ma: { provider: pa, upstreamModel: a-2026, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  mb: { provider: pb, upstreamModel: b-2026, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  chat:
    champion: ${champion}
    challenger: ${challenger}
    rollout: { percent: 10 }
`;

async function setup(t: Test) {
  const a = await new FakeUpstream({ apiKey: KEY_A }).start();
  const b = await new FakeUpstream({ apiKey: KEY_B }).start();
  const file = join(t.testdir(), 'gateway.yaml');
  writeFileSync(file, yaml(a, b, 'ma', 'mb'));
  const gw = await startGateway({ config: loadConfigFile(file, {}), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), env: {} });
  t.teardown(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });
  const files = (headers: Record<string, string> = {}) => fetch(`${gw.url}/v1/files?purpose=batch`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, ...headers } });
  return { a, b, gw, file, files };
}

t.test('after `rollout promote` the pass-through goes to the new champion, with its key', async (t) => {
  const { a, b, gw, files } = await setup(t);
  const before = await files();
  t.equal(before.status, 200);
  t.equal(before.headers.get('x-bellwether-model'), 'ma');
  t.equal(a.requests.length, 1, 'the first champion answered');

  const promoted = await admin(gw.url, 'POST', '/routes/chat/promote', { reason: 'mb wins' });
  t.equal(promoted.status, 200);
  const after = await files();
  t.equal(after.status, 200, "the new champion's provider accepted its own key");
  t.equal(((await after.json()) as { path: string }).path, '/v1/files?purpose=batch');
  t.equal(after.headers.get('x-bellwether-model'), 'mb');
  t.equal(a.requests.length, 1, 'the old champion got nothing more');
  t.equal(b.requests.at(-1)?.headers.authorization, `Bearer ${KEY_B}`);
});

t.test('after a config reload the pass-through goes to the champion the file now names', async (t) => {
  const { a, b, gw, file, files } = await setup(t);
  t.equal((await files()).status, 200);
  writeFileSync(file, yaml(a, b, 'mb', 'ma'));
  await gw.reload('test');
  const after = await files();
  t.equal(after.status, 200);
  t.equal(after.headers.get('x-bellwether-model'), 'mb');
  t.equal(a.requests.length, 1);
  t.equal(b.requests.length, 1);
  t.equal(b.requests.at(-1)?.headers.authorization, `Bearer ${KEY_B}`);
});

t.test("the client's credentials and x-bellwether-* headers stay at the gateway", async (t) => {
  const { a, files } = await setup(t);
  const res = await files({
    'api-key': 'client-azure-style-key',
    'x-api-key': 'client-anthropic-style-key',
    cookie: 'session=client-session-cookie',
    'proxy-authorization': 'Basic client-proxy-credentials',
    'x-bellwether-variant': 'challenger',
    'x-bellwether-debug': '1',
    'x-request-tag': 'kept',
  });
  t.equal(res.status, 200);
  const seen = a.requests.at(-1)!.headers;
  t.equal(seen.authorization, `Bearer ${KEY_A}`, "the provider's key, not the client's");
  t.equal(seen['api-key'], undefined);
  t.equal(seen['x-api-key'], undefined);
  t.equal(seen.cookie, undefined, "the client's session cookie is not the provider's business");
  t.equal(seen['proxy-authorization'], undefined, "nor are the client's proxy credentials");
  t.same(Object.keys(seen).filter((h) => h.startsWith('x-bellwether-')), []);
  t.equal(seen['x-request-tag'], 'kept', 'other headers pass through unchanged');
  t.notMatch(JSON.stringify(seen), /client-(azure|anthropic)-style-key|client-key-abcdef|client-session-cookie|client-proxy-credentials/);
});
