// bellwether_gateway_overhead_seconds and the wide line's overhead_ms are the gateway's own time on a
// request. A retry's backoff (Retry-After) is time spent waiting on the upstream's say-so, not gateway
// work: counted as overhead, one 429 made the gateway look a second slow. Nor is the time a stream
// waits for a client that reads slowly.
import t from 'tap';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { metricValue } from '../helpers/gateway.js';
import { startLoggedGateway } from '../resilience/support.js';

t.test('a Retry-After backoff is not gateway overhead', async (t) => {
  const upstream = await new FakeUpstream({ apiKey: 'sk-upstream-1' }).start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1", apiKey: sk-upstream-1 } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 10, maxRetryAfterMs: 5000 } } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  upstream.inject({ kind: 'status', status: 429, retryAfter: '1' });
  const started = performance.now();
  await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello Rome' }] });
  t.ok(performance.now() - started >= 1000, 'the gateway honoured Retry-After: 1');

  // Bounded by the request's own duration less half the backoff, not by a fixed figure: a loaded
  // machine stretches the gateway's own time (and the duration with it), but only counting the
  // backoff as overhead brings overhead within 0.5 s of the duration.
  const line = await gw.requestLine();
  const bound = Number(line.duration_ms) - 500;
  t.ok(Number(line.overhead_ms) < bound, `overhead_ms ${String(line.overhead_ms)} of duration_ms ${String(line.duration_ms)} excludes the 1 s backoff`);
  const m = await gw.metrics();
  const sum = metricValue(m, 'bellwether_gateway_overhead_seconds_sum', { route: 'chat', stream: 'false' }) ?? NaN;
  t.ok(sum < bound / 1000, `bellwether_gateway_overhead_seconds_sum ${sum} excludes the 1 s backoff`);
  t.equal(metricValue(m, 'bellwether_gateway_overhead_seconds_count', { route: 'chat', stream: 'false' }), 1);
});

t.test('a slow client reading a stream is not gateway overhead', async (t) => {
  // A fast upstream with a big answer (8 MB of chunks), so the socket's buffers fill while the client pauses.
  const chunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'x'.repeat(1000) }, finish_reason: null }] })}\n\n`;
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
      for (let i = 0; i < 8000; i++) res.write(chunk);
      res.end(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 8000, total_tokens: 8001 } })}\n\ndata: [DONE]\n\n`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startLoggedGateway(`
providers: { up: { type: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1" } }
models: { m: { provider: up } }
routes: { chat: { champion: m } }
`);
  t.teardown(async () => {
    await gw.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const pauseMs = 3000;
  const started = performance.now();
  const received = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let bytes = 0;
      res.pause(); // the client is busy: it reads nothing for a while
      setTimeout(() => {
        res.on('data', (b: Buffer) => (bytes += b.length));
        res.on('end', () => resolve(bytes));
        res.resume();
      }, pauseMs);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'long answer please' }] }));
  });
  t.ok(received > 8_000_000, 'the whole answer arrived');
  t.ok(performance.now() - started >= pauseMs, 'the client took its time');
  // Relaying 8 MB takes the gateway ~0.1 s here but over 1 s on a loaded machine, so the bound is the
  // request's own duration less half the pause: only counting the pause (the gateway waits for the
  // client for nearly all of it, once the socket buffers are full) brings overhead that close.
  const line = await gw.requestLine();
  const bound = Number(line.duration_ms) - pauseMs / 2;
  t.ok(Number(line.overhead_ms) < bound, `overhead_ms ${String(line.overhead_ms)} of duration_ms ${String(line.duration_ms)} excludes the time the client was not reading`);
  const sum = metricValue(await gw.metrics(), 'bellwether_gateway_overhead_seconds_sum', { route: 'chat', stream: 'true' }) ?? NaN;
  t.ok(sum < bound / 1000, `bellwether_gateway_overhead_seconds_sum ${sum} excludes it too`);
});
