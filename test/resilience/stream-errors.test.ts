// Errors reported INSIDE a 200 stream (OpenAI's `data: {"error":{...}}`, Anthropic's `event: error`)
// are classified by what they say, like the HTTP status they stand for: before the first token nothing
// reached the client, so they are retried and fall back like that status; after it, the client gets
// an in-band OpenAI-shaped error with the upstream's type and the metrics the matching error_class.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { metricValue } from '../helpers/gateway.js';
import { postJson, sseData, startLoggedGateway } from './support.js';

const RATE_LIMIT = { message: 'Rate limit reached for requests. Please try again in 1s.', type: 'requests', code: 'rate_limit_exceeded' };
const STREAM = { model: 'chat', messages: [{ role: 'user', content: 'Tell me about Vienna and Graz.' }], stream: true };

async function openai(t: Test, route = 'retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }') {
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1" } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, ${route} } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  return { upstream, gw, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

async function anthropic(t: Test, route = 'retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }') {
  const fake = await new FakeAnthropic().start();
  const gw = await startLoggedGateway(`
providers: { claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: sk-ant-test } }
models: { sonnet: { provider: claude, upstreamModel: claude-sonnet-4-5-20250929 } }
routes: { chat: { champion: sonnet, ${route} } }
`);
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  return { fake, gw };
}

t.test('OpenAI: a rate-limit error after the role chunk, before any token, is retried as a 429', async (t) => {
  const { upstream, gw, client } = await openai(t);
  upstream.inject({ kind: 'stream-error', afterChunks: 1, error: RATE_LIMIT });
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Tell me about Vienna and Graz.' }], stream: true });
  let text = '';
  let roles = 0;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    if (c.choices[0]?.delta.role) roles++;
  }
  t.ok(text.length > 0, 'the client got the retry’s answer');
  t.equal(roles, 1, 'one role chunk: the failed attempt left nothing on the wire');
  t.equal(upstream.requests.length, 2);
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'rate_limited'], ['retry', 'none']]);
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', model: 'mini', attempt: 'first', outcome: 'error', error_class: 'rate_limited' }), 1);
});

t.test('OpenAI: without a retry left, a rate-limit error before any token is a 429 with the upstream body', async (t) => {
  const { upstream, gw } = await openai(t, 'retry: { maxAttempts: 1 }');
  upstream.inject({ kind: 'stream-error', afterChunks: 0, error: RATE_LIMIT });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 429);
  t.same(JSON.parse(res.text), { error: { ...RATE_LIMIT, param: null } });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'rate_limited');
});

t.test('OpenAI: an invalid-request error in a stream is a 4xx: not retried', async (t) => {
  const { upstream, gw } = await openai(t);
  upstream.inject({ kind: 'stream-error', afterChunks: 1, error: { message: 'Invalid prompt', type: 'invalid_request_error', code: 'invalid_prompt' } });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 400);
  t.equal(upstream.requests.length, 1);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'upstream_4xx');
});

t.test('OpenAI: a rate-limit error after output started is in-band, with its type, and counted as rate_limited', async (t) => {
  const { upstream, gw } = await openai(t);
  upstream.inject({ kind: 'stream-error', afterChunks: 3, error: RATE_LIMIT });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 200);
  const data = sseData(res.text);
  t.same(data.at(-1), { error: { ...RATE_LIMIT, param: null } });
  t.equal(upstream.requests.length, 1, 'bytes reached the client: no retry');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'rate_limited');
  t.equal(line.status, 200, 'the log line has the status the client got, not the in-band error’s');
  t.equal(line.outcome, 'error');
  t.match(line.error, /Rate limit reached/);
  t.match(line.attempts, [{ outcome: 'error', error_class: 'rate_limited', status: 429 }], 'the attempt keeps the status the error stands for');
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'mini', stream: 'true', outcome: 'error', error_class: 'rate_limited' }), 1);
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', model: 'mini', attempt: 'first', outcome: 'error', error_class: 'rate_limited' }), 1);
});

t.test('Anthropic: overloaded_error right after message_start is retried', async (t) => {
  const { fake, gw } = await anthropic(t);
  fake.inject({ kind: 'stream-error', afterEvents: 1, errorType: 'overloaded_error' });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 200);
  const data = sseData(res.text);
  t.equal(data.at(-1), '[DONE]');
  t.notOk(data.some((d) => typeof d === 'object' && d !== null && 'error' in d), 'no error reached the client');
  t.equal(fake.requests.length, 2);
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'upstream_5xx'], ['retry', 'none']]);
});

t.test('Anthropic: rate_limit_error mid-stream is in-band as a rate_limit_error and counted as rate_limited', async (t) => {
  const { fake, gw } = await anthropic(t);
  fake.inject({ kind: 'stream-error', afterEvents: 5, errorType: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  const data = sseData(res.text);
  t.same(data.at(-1), { error: { message: 'Number of request tokens has exceeded your per-minute rate limit', type: 'rate_limit_error', code: 'rate_limit_error' } });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'rate_limited');
  t.equal(fake.requests.length, 1);
});

t.test('a challenger rate-limited in its stream before any token falls back to the champion', async (t) => {
  const champion = await new FakeUpstream().start();
  const challenger = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers:
  main: { type: openai-compatible, baseUrl: "${champion.url}/v1" }
  cand: { type: openai-compatible, baseUrl: "${challenger.url}/v1" }
models: { big: { provider: main }, small: { provider: cand } }
routes:
  chat: { champion: big, challenger: small, rollout: { percent: 100 }, fallback: champion, retry: { maxAttempts: 1 } }
`);
  t.teardown(async () => {
    await gw.close();
    await champion.close();
    await challenger.close();
  });
  challenger.inject({ kind: 'stream-error', afterChunks: 1, error: RATE_LIMIT });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.headers['x-bellwether-fallback'], 'true');
  t.equal(res.headers['x-bellwether-model'], 'big');
  t.equal(sseData(res.text).at(-1), '[DONE]');
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', variant: 'challenger', model: 'small', attempt: 'first', outcome: 'error', error_class: 'rate_limited' }), 1);
  t.equal(metricValue(m, 'bellwether_fallbacks_total', { route: 'chat', variant: 'challenger', from_model: 'small', to_model: 'big', reason: 'error' }), 1);
});

t.test('Responses API: an `error` event with a rate-limit code is a 429, not a 500', async (t) => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: { id: 'resp_1', status: 'in_progress' } })}\n\n`);
      res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 1, code: 'rate_limit_exceeded', message: 'Rate limit reached', param: null })}\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "http://127.0.0.1:${(server.address() as AddressInfo).port}/v1" } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini } }
`);
  t.teardown(async () => {
    await gw.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const res = await postJson(gw.url, '/v1/responses', { model: 'chat', input: 'hi', stream: true });
  t.equal(res.status, 429);
  t.match(JSON.parse(res.text), { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded', type: 'rate_limit_error' } });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'rate_limited');
});

t.test('Responses over chat: an error after output started is a numbered ResponseErrorEvent', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers: { local: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { m: { provider: local, upstreamModel: local-model } }
routes: { chat: { champion: m } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  upstream.inject({ kind: 'stream-error', afterChunks: 3, error: RATE_LIMIT });
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const e of await client.responses.create({ model: 'chat', input: 'Tell me about Vienna and Graz.', stream: true })) events.push(e);
  const last = events.at(-1);
  t.equal(last?.type, 'error');
  t.match(last, { code: 'rate_limit_exceeded', message: /Rate limit reached/, param: null });
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers run on through the error event');
  t.ok(events.some((e) => e.type === 'response.output_text.delta'), 'output had started');
});
