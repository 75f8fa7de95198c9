// Bad input gets a clear OpenAI-shaped error, and loses nothing.
import t from 'tap';
import { request } from 'undici';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { startTestGateway, metricValue, metricSum } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const CONFIG = `
server: { bodyLimitBytes: 2048 }
auth:
  clientKeys: [{ name: app, key: app-key-123456 }]
providers:
  sim: { type: simulator }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  b: { provider: sim }
routes:
  demo: { champion: a, challenger: b, rollout: { percent: 50 }, aliases: [gpt-4o] }
`;

interface ErrorBody {
  error: { message: string; type: string; code: string | null };
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer app-key-123456', ...headers },
    body,
  });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as ErrorBody };
}

t.test('client errors', async (t) => {
  const gw = await startTestGateway(CONFIG);
  t.teardown(() => gw.close());
  const ok = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });

  const malformed = await post(gw.url, '{"model": "demo", "messages": [');
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error.type, 'invalid_request_error');
  t.match(malformed.body.error.message, /could not parse the JSON/);

  const unknown = await post(gw.url, JSON.stringify({ model: 'gpt-5-ultra', messages: [] }));
  t.equal(unknown.status, 404);
  t.equal(unknown.body.error.code, 'model_not_found');
  t.match(unknown.body.error.message, /gpt-5-ultra.*Known routes: demo/);

  const noModel = await post(gw.url, JSON.stringify({ messages: [] }));
  t.equal(noModel.status, 400);

  const array = await post(gw.url, '[1,2]');
  t.equal(array.status, 400);

  const big = await post(gw.url, JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }));
  t.equal(big.status, 413);
  t.equal(big.body.error.code, 'request_too_large');

  const noKey = await post(gw.url, ok, { authorization: '' });
  t.equal(noKey.status, 401);
  t.equal(noKey.body.error.code, 'missing_api_key');
  const badKey = await post(gw.url, ok, { authorization: 'Bearer app-key-999999' });
  t.equal(badKey.status, 401);
  t.equal(badKey.body.error.code, 'invalid_api_key');
  t.notMatch(JSON.stringify(badKey.body), 'app-key', 'the presented key is not echoed back');

  const alias = await post(gw.url, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
  t.equal(alias.status, 200);
  t.equal(alias.headers['x-bellwether-route'], 'demo', 'alias routes to its route');

  const notFound = await request(`${gw.url}/nope`);
  t.equal(notFound.statusCode, 404);
  t.equal(((await notFound.body.json()) as ErrorBody).error.type, 'invalid_request_error');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricSum(metrics, 'bellwether_requests_total', { route: 'demo' }), 1, 'rejected requests never reach route metrics');
});

t.test('a request refused before the upstream call still names its route (PRODUCT.md section 4)', async (t) => {
  const gw = await startTestGateway(`
auth:
  clientKeys: [{ name: app, key: app-key-123456 }, { name: qa, key: qa-key-1234567, canForceVariant: true }]
providers:
  sim: { type: simulator }
models:
  a: { provider: sim }
  b: { provider: sim }
routes:
  demo: { champion: a, challenger: b, rollout: { percent: 50 }, aliases: [gpt-4o] }
  solo: { champion: a }
`);
  t.teardown(() => gw.close());
  const ask = (model: string, variant: string, key = 'qa-key-1234567') =>
    post(gw.url, JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }), { authorization: `Bearer ${key}`, 'x-bellwether-variant': variant });

  const cases = [
    { name: 'a key that may not force a variant', res: await ask('gpt-4o', 'challenger', 'app-key-123456'), status: 403, code: 'variant_forcing_not_allowed', route: 'demo' },
    { name: 'an unknown variant', res: await ask('demo', 'blue'), status: 400, code: 'invalid_variant', route: 'demo' },
    { name: 'forcing a challenger the route does not have', res: await ask('solo', 'challenger'), status: 400, code: 'no_challenger', route: 'solo' },
  ];
  for (const c of cases) {
    t.equal(c.res.status, c.status, c.name);
    t.equal(c.res.body.error.code, c.code, c.name);
    t.match(c.res.headers['x-bellwether-request-id'], /^[0-9a-f-]{36}$/, `${c.name}: request id`);
    t.equal(c.res.headers['x-bellwether-route'], c.route, `${c.name}: route`);
    t.equal(c.res.headers['x-bellwether-attempts'], '0', `${c.name}: no upstream attempt`);
    t.equal(c.res.headers['x-bellwether-model'], undefined, `${c.name}: no model answered`);
  }
});

t.test('metrics are pre-initialised at 0 for every route/variant/model', async (t) => {
  const gw = await startTestGateway(CONFIG);
  t.teardown(() => gw.close());
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  for (const variant of ['champion', 'challenger']) {
    for (const model of ['a', 'b']) {
      t.equal(metricValue(text, 'bellwether_requests_total', { route: 'demo', variant, model, stream: 'false', outcome: 'success', error_class: 'none' }), 0);
      t.equal(metricValue(text, 'bellwether_requests_total', { route: 'demo', variant, model, stream: 'true', outcome: 'error', error_class: 'timeout' }), 0);
      t.equal(metricValue(text, 'bellwether_cost_usd_total', { route: 'demo', variant, model }), 0);
      t.equal(metricValue(text, 'bellwether_tokens_total', { route: 'demo', variant, model, type: 'cached_input' }), 0);
      t.equal(metricValue(text, 'bellwether_time_to_first_token_seconds_count', { route: 'demo', variant, model }), 0);
      t.equal(metricValue(text, 'bellwether_upstream_requests_total', { route: 'demo', variant, model, attempt: 'retry' }), 0);
    }
    t.equal(metricValue(text, 'bellwether_inflight_requests', { route: 'demo', variant }), 0);
  }
  t.equal(metricValue(text, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0.5);
  t.equal(metricValue(text, 'bellwether_rollout_info', { route: 'demo', champion: 'a', challenger: 'b', mode: 'split', state: 'active' }), 1);
  t.match(text, /bellwether_request_duration_seconds_bucket\{le="300",route="demo"/);
  t.match(text, /bellwether_time_to_first_token_seconds_bucket\{le="120",route="demo"/);
});

t.test('an unpriced model records cost as unknown, never 0', async (t) => {
  const gw = await startTestGateway(CONFIG);
  t.teardown(() => gw.close());
  // Everyone to the unpriced challenger (percent 100).
  await gw.gateway.ctx.rollouts.apply('demo', { action: 'set', percent: 100, actor: 't', reason: 'r' });
  const b = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer app-key-123456' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await b.body.text();
  t.equal(b.headers['x-bellwether-model'], 'b');
  t.equal(b.headers['x-bellwether-cost-usd'], 'unknown');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_cost_unknown_total', { route: 'demo', variant: 'challenger', model: 'b' }), 1);
  t.equal(metricValue(metrics, 'bellwether_cost_usd_total', { route: 'demo', variant: 'challenger', model: 'b' }), 0);
});

t.test('health and readiness', async (t) => {
  const gw = await startTestGateway(CONFIG);
  t.teardown(() => gw.close());
  const health = await request(`${gw.url}/healthz`);
  t.equal(health.statusCode, 200);
  await health.body.text();
  const ready = await request(`${gw.url}/readyz`);
  t.equal(ready.statusCode, 200);
  const body = (await ready.body.json()) as { status: string; state: { backend: string } };
  t.equal(body.status, 'ready');
  t.equal(body.state.backend, 'memory');
});

t.test('a request arriving while the gateway drains gets an OpenAI-shaped 503', async (t) => {
  // About 50 tokens at 20/s: the stream is still running seconds after its first chunk.
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 20 } }).start();
  t.teardown(() => upstream.close());
  const logs: { level: number; msg: string; status?: number }[] = [];
  const logger = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  }));
  const gw = await startTestGateway(`
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" }
models:
  a: { provider: up }
routes:
  demo: { champion: a }
`, {}, { logger });
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  const body = (stream: boolean) => JSON.stringify({ model: 'demo', stream, messages: [{ role: 'user', content: 'Tell me about Ada Lovelace' }] });
  const req = (b: string) => `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
  // A stream is in flight on this keep-alive connection when shutdown begins...
  socket.write(req(body(true)));
  while (!received.includes('data:')) await new Promise((r) => setTimeout(r, 10));
  const closed = gw.close();
  await waitFor(() => gw.gateway.ctx.draining || undefined);
  // ...and the client sends its next request on the same connection.
  socket.write(req(body(false)));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 10_000))]);
  await closed;
  socket.destroy();
  t.match(received, /data: \[DONE\]/, 'the in-flight stream finished');
  const second = received.slice(received.indexOf('HTTP/1.1', 1));
  t.match(second, /^HTTP\/1\.1 503/);
  t.match(second, /x-bellwether-request-id: [0-9a-f-]{36}/i);
  const json = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as ErrorBody;
  t.equal(json.error.type, 'api_error', 'OpenAI error shape: the SDK reads error.message and retries the 503 elsewhere');
  t.type(json.error.message, 'string');
  t.same(logs.filter((l) => l.level >= 50), [], 'turning a request away while draining is not logged as an error');
  t.ok(logs.some((l) => l.level === 30 && l.msg === 'request rejected' && l.status === 503), 'it is logged at info');
});

t.test('while draining, liveness and /metrics still answer 200 and /readyz answers 503', async (t) => {
  // A kubelet whose liveness probe failed for the length of the drain would kill the pod before its
  // streams finished, and Prometheus would lose the last scrapes of the requests being drained.
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 400 } }).start();
  t.teardown(() => upstream.close());
  const gw = await startTestGateway(`
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" }
models:
  a: { provider: up }
routes:
  demo: { champion: a }
`);
  const { port } = new URL(gw.url);
  // One keep-alive connection per probe, opened before shutdown (the listener stops accepting).
  const open = async () => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.setEncoding('utf8');
    await once(socket, 'connect');
    return socket;
  };
  const stream = await open();
  const probes = { healthz: await open(), metrics: await open(), readyz: await open() };
  let received = '';
  stream.on('data', (d: string) => (received += d));
  const body = JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'Tell me about Ada Lovelace' }] });
  stream.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  while (!received.includes('data:')) await new Promise((r) => setTimeout(r, 10));
  // The probe connections must not be idle when shutdown closes idle ones: send the request line now
  // and finish the headers once the gateway is draining.
  for (const [path, socket] of Object.entries(probes)) socket.write(`GET /${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n`);
  const closed = gw.close();
  await waitFor(() => gw.gateway.ctx.draining || undefined);
  const status = async (socket: ReturnType<typeof connect>): Promise<string> => {
    let text = '';
    socket.on('data', (d: string) => (text += d));
    socket.write('\r\n');
    while (!/^HTTP\/1\.1 \d{3}/.test(text) && !socket.destroyed) await new Promise((r) => setTimeout(r, 10));
    return text.slice(9, 12);
  };
  t.equal(await status(probes.healthz), '200', '/healthz: the process is alive, draining');
  t.equal(await status(probes.metrics), '200', '/metrics: the drain is still observable');
  t.equal(await status(probes.readyz), '503', '/readyz: no new traffic for a draining replica');
  while (!received.includes('data: [DONE]')) await new Promise((r) => setTimeout(r, 10));
  t.pass('the in-flight stream finished');
  for (const socket of [stream, ...Object.values(probes)]) socket.destroy();
  await closed;
});
