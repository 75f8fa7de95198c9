// Credentials sent through `providers.X.headers` (`api-key`, `x-api-key`, `authorization: Bearer …`)
// are secrets like `apiKey`: kept out of upstream error messages and out of sampled datasets.
import t from 'tap';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { until } from '../helpers/gateway.js';
import { postJson, startLoggedGateway } from '../resilience/support.js';

const ADMIN = 'admin-token-0123456789';
const HEADER_KEY = 'tenant7-granite-passphrase';
const BEARER_TOKEN = 'edge-proxy-credential-4411';

t.test('keys set as custom headers: not echoed to the client or the log, redacted from datasets', async (t) => {
  const dir = t.testdir({});
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
auth: { adminTokens: [{ name: sre, token: ${ADMIN} }] }
providers:
  vllm: { type: openai-compatible, baseUrl: "${upstream.url}/v1", headers: { api-key: "${HEADER_KEY}", authorization: "Bearer ${BEARER_TOKEN}", x-team: search } }
models: { llama: { provider: vllm, upstreamModel: llama } }
routes: { chat: { champion: llama, retry: { maxAttempts: 1 }, sampling: { rate: 1 } } }
datasets: { dir: ${dir} }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });

  // An upstream that echoes both credentials it got, as key-checking proxies do.
  upstream.inject({ kind: 'status', status: 401, body: { error: { message: `api-key ${HEADER_KEY} and token ${BEARER_TOKEN} are not valid for this tenant`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
  const failed = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(failed.status, 401);
  t.notMatch(failed.text, HEADER_KEY, 'header key not in the client’s error');
  t.notMatch(failed.text, BEARER_TOKEN, 'bearer token not in the client’s error');
  t.match(JSON.parse(failed.text), { error: { code: 'invalid_api_key', message: /not valid for this tenant/ } });
  const line = await gw.requestLine();
  t.notMatch(JSON.stringify(line), HEADER_KEY, 'not in the log line');
  t.notMatch(JSON.stringify(line), BEARER_TOKEN, 'not in the log line');

  const sent = upstream.requests[0]?.headers;
  t.equal(sent?.['api-key'], HEADER_KEY, 'the headers still reach the upstream');
  t.equal(sent?.authorization, `Bearer ${BEARER_TOKEN}`);

  // A user who pastes the gateway's credentials into a prompt: the sampled record has neither.
  const ok = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: `Why is ${HEADER_KEY} rejected with ${BEARER_TOKEN}?` }] });
  t.equal(ok.status, 200);
  const exported = await until(
    async () => {
      const res = await request(`${gw.url}/admin/v1/datasets/chat/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
      return res.body.text();
    },
    (text) => text.trim().length > 0,
  );
  t.ok(exported.trim().length > 0, 'the request was sampled');
  t.notMatch(exported, HEADER_KEY, 'header key redacted from the dataset');
  t.notMatch(exported, BEARER_TOKEN, 'bearer token redacted from the dataset');
  t.match(exported, '[REDACTED:secret]');
});

t.test('a key that contains another key is masked whole, not around the shorter one', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers:
  vllm: { type: openai-compatible, baseUrl: "${upstream.url}/v1", apiKey: edge-proxy-credential, headers: { x-api-key: "edge-proxy-credential-4411-tenant7" } }
models: { llama: { provider: vllm, upstreamModel: llama } }
routes: { chat: { champion: llama, retry: { maxAttempts: 1 } } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  upstream.inject({ kind: 'status', status: 401, body: { error: { message: 'x-api-key edge-proxy-credential-4411-tenant7 is not valid', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
  const failed = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(failed.status, 401);
  t.equal((JSON.parse(failed.text) as { error: { message: string } }).error.message, 'x-api-key [REDACTED] is not valid');
});
