// Retries: only retryable classes (connection, timeout, 429, 5xx; of the 4xx only 408 and 409), backoff honouring
// Retry-After in seconds and as an HTTP date (capped), each attempt counted with its `attempt` label.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { backoffDelay } from '../../src/gateway/attempts.js';
import { parseRetryAfter } from '../../src/providers/upstream-errors.js';
import { metricValue } from '../helpers/gateway.js';
import { postJson, startLoggedGateway } from './support.js';

async function setup(t: Test, retry = '{ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 10, maxRetryAfterMs: 5000 }') {
  const upstream = await new FakeUpstream({ apiKey: 'sk-upstream-1' }).start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1", apiKey: sk-upstream-1 } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, retry: ${retry} } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { upstream, gw, client };
}

const ask = (client: OpenAI) => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello Rome' }] }).withResponse();

t.test('429 with Retry-After (seconds) is retried and counted as attempt=retry', async (t) => {
  const { upstream, gw, client } = await setup(t);
  upstream.inject({ kind: 'status', status: 429, retryAfter: '0' });
  const { data, response } = await ask(client);
  t.ok(data.choices[0]?.message.content);
  t.equal(response.headers.get('x-bellwether-attempts'), '2');
  t.equal(upstream.requests.length, 2);
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'rate_limited'], ['retry', 'none']]);
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', model: 'mini', attempt: 'first', outcome: 'error', error_class: 'rate_limited' }), 1);
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', model: 'mini', attempt: 'retry', outcome: 'success', error_class: 'none' }), 1);
  t.equal(metricValue(m, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'mini', stream: 'false', outcome: 'success', error_class: 'none' }), 1);
});

t.test('Retry-After as an HTTP date is honoured too', async (t) => {
  const { upstream, client } = await setup(t);
  upstream.inject({ kind: 'status', status: 503, retryAfter: new Date(Date.now() - 1000).toUTCString() });
  const { response } = await ask(client);
  t.equal(response.headers.get('x-bellwether-attempts'), '2');
});

t.test('Retry-After semantics: floor for the backoff, capped by maxRetryAfterMs', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(parseRetryAfter({ 'retry-after': '2' }, now), 2000);
  t.equal(parseRetryAfter({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now), 5000);
  t.equal(parseRetryAfter({ 'retry-after-ms': '150', 'retry-after': '9' }, now), 150);
  t.equal(parseRetryAfter({ 'retry-after': 'soon' }, now), undefined);
  const retry = { baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 3000 };
  t.equal(backoffDelay(retry, 0, 2000, () => 0.5), 2000, 'Retry-After above the jitter wins');
  t.equal(backoffDelay(retry, 0, 60_000, () => 0.5), 3000, 'capped');
  t.equal(backoffDelay(retry, 2, undefined, () => 0.5), 200, 'full jitter of base*2^n');
  t.equal(backoffDelay(retry, 10, undefined, () => 1), 1000, 'bounded by maxDelayMs');
});

t.test('500 and 503 are retried; when retries run out the client gets the upstream status and shape', async (t) => {
  const { upstream, client, gw } = await setup(t, '{ maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }');
  upstream.inject({ kind: 'status', status: 500 });
  const ok = await ask(client);
  t.equal(ok.response.headers.get('x-bellwether-attempts'), '2');

  upstream.inject({ kind: 'status', status: 503 }, 2);
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(res.status, 503);
  t.equal(res.headers['x-bellwether-attempts'], '2');
  t.same(JSON.parse(res.text), { error: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null, param: null } });
});

t.test('a connection reset is retried', async (t) => {
  const { upstream, client, gw } = await setup(t);
  upstream.inject({ kind: 'reset' });
  const { response } = await ask(client);
  t.equal(response.headers.get('x-bellwether-attempts'), '2');
  const line = await gw.requestLine();
  t.equal(line.attempts?.[0]?.error_class, 'connection');
});

t.test('4xx is never retried', async (t) => {
  const { upstream, client } = await setup(t);
  upstream.inject({ kind: 'status', status: 400, body: { error: { message: 'bad param', type: 'invalid_request_error', param: 'x', code: null } } });
  const err = await ask(client).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError);
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).param, 'x', 'upstream error body relayed');
  t.equal(upstream.requests.length, 1);
});

t.test('408 and 409 are the 4xx that are retried (the request never ran, or raced)', async (t) => {
  const { upstream, client } = await setup(t);
  upstream.inject({ kind: 'status', status: 408, body: { error: { message: 'Request timed out.', type: 'invalid_request_error', param: null, code: null } } });
  const first = await ask(client);
  t.equal(first.response.headers.get('x-bellwether-attempts'), '2', '408 retried');
  upstream.inject({ kind: 'status', status: 409, body: { error: { message: 'Conflict, please retry.', type: 'invalid_request_error', param: null, code: null } } });
  const second = await ask(client);
  t.equal(second.response.headers.get('x-bellwether-attempts'), '2', '409 retried');
  t.equal(upstream.requests.length, 4);
});

t.test('a 429 for an exhausted quota is not retried: waiting does not refill it', async (t) => {
  const { upstream, client, gw } = await setup(t);
  upstream.inject(
    { kind: 'status', status: 429, body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } },
    3,
  );
  const err = await ask(client).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.RateLimitError);
  t.equal(upstream.requests.length, 1);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'rate_limited');
});

t.test('a Retry-After the request cannot wait out: the 429 and its Retry-After go back at once, not a 504 later', async (t) => {
  // Waiting would take the whole 15 s budget (a 504 then); answering at once takes milliseconds, so
  // half the budget is a bound a loaded machine cannot miss.
  const { upstream, gw } = await setup(t, '{ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 10 }, timeouts: { totalMs: 15000 }');
  upstream.inject({ kind: 'status', status: 429, retryAfter: '20' });
  const started = Date.now();
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(res.status, 429);
  t.equal(res.headers['retry-after'], '20', 'the client learns when to come back');
  t.ok(Date.now() - started < 7500, `answered without waiting for the total timeout (${Date.now() - started} ms)`);
  t.equal(upstream.requests.length, 1);
});

t.test('an upstream error that echoes the provider key: the key reaches neither the client nor the log', async (t) => {
  const { upstream, gw } = await setup(t);
  upstream.inject({ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided: sk-upstream-1. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(res.status, 401);
  t.notMatch(res.text, 'sk-upstream-1', 'not in the client’s error');
  t.match(JSON.parse(res.text), { error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
  const line = await gw.requestLine();
  t.notMatch(JSON.stringify(line), 'sk-upstream-1', 'not in the log line');
});
