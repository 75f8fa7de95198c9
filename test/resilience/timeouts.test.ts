// Timeouts: connect, time to first token, idle gap between chunks and total are each a distinct cause
// (error_cause / attempt cause) of error_class=timeout; nothing is retried once a byte reached the client.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { transportError } from '../../src/providers/upstream-errors.js';
import { postJson, sseData, startLoggedGateway } from './support.js';

async function setup(t: Test, route: string, tokensPerSecond = 200) {
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond } }).start();
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

const STREAM = { model: 'chat', messages: [{ role: 'user', content: 'Tell me about Vienna and Graz.' }], stream: true };

t.test('slow headers: first_token timeout, retried (nothing was sent yet)', async (t) => {
  // The retry must show its first token within the timeout too: 1 s leaves a loaded machine room
  // (it takes milliseconds), and the slow headers are ten times that.
  const { upstream, gw, client } = await setup(t, 'retry: { maxAttempts: 2, baseDelayMs: 1 }, timeouts: { firstTokenMs: 1000 }');
  upstream.inject({ kind: 'slow-headers', ms: 10_000 });
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  t.ok(text.length > 0);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'none');
  t.same(line.attempts?.map((a) => [a.kind, a.error_class, a.cause]), [['first', 'timeout', 'first_token'], ['retry', 'none', undefined]]);
});

t.test('first_token timeout without retries: 504 with the cause in the log line', async (t) => {
  const { upstream, gw } = await setup(t, 'timeouts: { firstTokenMs: 300 }');
  upstream.inject({ kind: 'slow-headers', ms: 5000 });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 504);
  t.equal(JSON.parse(res.text).error.code, 'upstream_timeout');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'timeout');
  t.equal(line.error_cause, 'first_token');
});

t.test('a stall between chunks: idle timeout, reported in-band, not retried', async (t) => {
  const { upstream, gw } = await setup(t, 'retry: { maxAttempts: 3, baseDelayMs: 1 }, timeouts: { idleMs: 300 }');
  upstream.inject({ kind: 'stall', afterChunks: 3, ms: 5000 });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 200, 'headers were already sent');
  const data = sseData(res.text);
  t.match(data[data.length - 1], { error: { code: 'upstream_timeout' } });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'timeout');
  t.equal(line.error_cause, 'idle');
  t.equal(upstream.requests.length, 1, 'never retried after a byte reached the client');
});

t.test('a stream that keeps arriving within the idle timeout runs past it many times over', async (t) => {
  // 10 tokens/s: a chunk every 100 ms for 4 s, against an 800 ms idle timeout (8× the gap, so a
  // loaded machine can't fake a stall). The idle timer fires several times during the stream and
  // must measure the current wait, not the stream's age.
  const { gw, client } = await setup(t, 'timeouts: { idleMs: 800 }', 10);
  const started = performance.now();
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Tell me about Vienna and Graz.' }], stream: true, max_tokens: 40 });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  t.ok(performance.now() - started > 3200, 'the stream lasted longer than four idle timeouts');
  t.ok(text.length > 0);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'none');
});

t.test('total timeout', async (t) => {
  const { upstream, gw } = await setup(t, 'retry: { maxAttempts: 3 }, timeouts: { totalMs: 300 }');
  upstream.inject({ kind: 'slow-headers', ms: 5000 });
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(res.status, 504);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'timeout');
  t.equal(line.error_cause, 'total');
  t.equal(line.attempts?.length, 1, 'the request budget is spent: no retry');
});

t.test('connect timeout is its own cause', async (t) => {
  const err = transportError(Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), new AbortController().signal, 'openai', 'connect');
  t.equal(err.errorClass, 'timeout');
  t.equal(err.cause_, 'connect');
  t.ok(err.retryable);
});

t.test('a stream cut mid-way: in-band error, stream_interrupted, no retry', async (t) => {
  const { upstream, gw } = await setup(t, 'retry: { maxAttempts: 3, baseDelayMs: 1 }');
  upstream.inject({ kind: 'cut-stream', afterChunks: 3 });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  const data = sseData(res.text);
  t.match(data[data.length - 1], { error: { code: 'stream_interrupted' } });
  t.equal(data.filter((d) => d === '[DONE]').length, 0);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'stream_interrupted');
  t.equal(upstream.requests.length, 1);
  // Billed but never reported: priced from an estimate (gpt-4o-mini is in config/pricing.yaml).
  t.equal(line.cost_provenance, 'estimated');
  t.ok((line.cost_usd ?? 0) > 0);
  t.equal(line.attempts?.[0]?.usage_estimated, true);
});

t.test('a stream cut before its first event is retried (nothing reached the client)', async (t) => {
  const { upstream, gw } = await setup(t, 'retry: { maxAttempts: 2, baseDelayMs: 1 }');
  upstream.inject({ kind: 'cut-stream', afterChunks: 0 });
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  const data = sseData(res.text);
  t.equal(data[data.length - 1], '[DONE]');
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'stream_interrupted'], ['retry', 'none']]);
});

t.test('an upstream that ends without [DONE] or a finish reason is an interrupted stream', async (t) => {
  const { upstream, gw } = await setup(t, 'retry: { maxAttempts: 1 }');
  upstream.inject({ kind: 'cut-stream', afterChunks: 2 });
  await postJson(gw.url, '/v1/chat/completions', STREAM);
  const line = await gw.requestLine();
  t.equal(line.error_class, 'stream_interrupted');
});
