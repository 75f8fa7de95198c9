// Streams at the edges of the wire format and of client behaviour, against a hand-written upstream
// (each quirk here is one a real OpenAI-compatible server or proxy produces): an empty body, a body
// held open after [DONE], multi-line and non-object `data:` payloads, reasoning deltas before the
// answer, and a client that stops reading.
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createParser } from 'eventsource-parser';
import { postJson, sseData, startLoggedGateway } from './support.js';
import { metricValue, until } from '../helpers/gateway.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** An upstream whose every answer `handler` writes by hand; `n` counts the requests it got. */
async function wireUpstream(t: Test, handler: Handler): Promise<{ url: string; readonly count: number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res, n++));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get count() {
      return n;
    },
  };
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 } })}\n\n`;
const DONE = 'data: [DONE]\n\n';
const STREAM = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true };

async function gatewayFor(t: Test, upstreamUrl: string, route = '') {
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai-compatible, baseUrl: "${upstreamUrl}/v1" } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, ${route} } }
`);
  t.teardown(() => gw.close());
  return gw;
}

t.test('a body that ends before its first event is retried like a reset, not relayed as a 200 with an error', async (t) => {
  const up = await wireUpstream(t, (_req, res, n) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (n === 0) return void res.end(': keep-alive\n\n');
    res.end(chunk({ content: 'Hello' }) + chunk({}, 'stop') + usage + DONE);
  });
  const gw = await gatewayFor(t, up.url, 'retry: { maxAttempts: 2, baseDelayMs: 1 }');
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 200);
  t.equal(up.count, 2, 'the empty answer was retried');
  t.equal(sseData(res.text).at(-1), '[DONE]');
  const line = await gw.requestLine();
  t.same(
    line.attempts?.map((a) => [a.kind, a.error_class, a.cause ?? null]),
    [
      ['first', 'stream_interrupted', 'eof_before_first_event'],
      ['retry', 'none', null],
    ],
  );
});

t.test('without a retry left, an empty body is a 502 with an OpenAI-shaped error', async (t) => {
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end();
  });
  const gw = await gatewayFor(t, up.url);
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), { error: { code: 'stream_interrupted', type: 'api_error' } });
});

t.test('the stream ends for the client at [DONE] even when the upstream holds its body open', async (t) => {
  let upstreamClosed = false;
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ content: 'Hello' }) + chunk({}, 'stop') + usage + DONE);
    res.on('close', () => (upstreamClosed = true));
    // Never ends: the gateway must not wait for it, nor call it an idle timeout.
  });
  // Waiting for the body would last until the idle timeout: far longer than relaying the answer
  // takes, even on a loaded machine (tens of ms normally), so the bound below cannot be missed by a stall.
  const idleMs = 3000;
  const gw = await gatewayFor(t, up.url, `timeouts: { idleMs: ${idleMs} }`);
  const started = Date.now();
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.ok(Date.now() - started < idleMs, `the client's stream ended at [DONE] (${Date.now() - started} ms)`);
  t.equal(sseData(res.text).at(-1), '[DONE]', 'nothing after [DONE]');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'none', 'recorded as a success');
  t.equal(line.status, 200);
  await until(async () => upstreamClosed, (closed) => closed, 15_000);
  t.ok(upstreamClosed, 'the upstream request was stopped after the idle timeout');
});

t.test('a multi-line data: event keeps a data: field per line', async (t) => {
  const pretty = `data: {"id":"c1","object":"chat.completion.chunk",\ndata: "choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n`;
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(pretty + usage + DONE);
  });
  const gw = await gatewayFor(t, up.url);
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  const stray = res.text.split('\n').filter((l) => l !== '' && !/^(data|event|id|retry):/.test(l));
  t.same(stray, [], 'every line is an SSE field');
  // As an SSE client reads it: the data lines of one event joined with newlines.
  const events: string[] = [];
  createParser({ onEvent: (e) => events.push(e.data) }).feed(res.text);
  t.match(JSON.parse(events[0] ?? ''), { choices: [{ delta: { content: 'Hi' } }] }, 'the client reads the event whole');
});

t.test('a data: payload that is JSON but not an object is relayed, not a broken stream', async (t) => {
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(chunk({ content: 'Hi' }) + 'data: 1\n\n' + chunk({}, 'stop') + usage + DONE);
  });
  const gw = await gatewayFor(t, up.url);
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(sseData(res.text).at(-1), '[DONE]');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'none');
});

t.test('reasoning deltas are output: they meet the first-token timeout', async (t) => {
  // A delta every 100 ms, the answer only after 30 of them (3 s at the earliest): only the reasoning
  // can beat the 1.5 s first-token timeout, and every gap is far inside the idle timeout.
  const reasoningDeltas = 30;
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      if (i++ < reasoningDeltas) return void res.write(chunk({ reasoning_content: 'thinking… ' }));
      clearInterval(timer);
      res.end(chunk({ content: 'Answer' }, 'stop') + usage + DONE);
    }, 100);
  });
  const gw = await gatewayFor(t, up.url, 'timeouts: { firstTokenMs: 1500, idleMs: 1500 }');
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  t.equal(sseData(res.text).at(-1), '[DONE]');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'none', 'not cut off as a first-token timeout');
  // Timed from the answer, TTFT could not be below 3 s: the answer is not written before then.
  t.ok(typeof line.ttft_ms === 'number' && line.ttft_ms < reasoningDeltas * 100, `TTFT is the first reasoning delta (${String(line.ttft_ms)} ms)`);
});

t.test('a client that stops reading cannot hold a stream open past the total timeout', async (t) => {
  let upstreamClosed = false;
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.on('close', () => (upstreamClosed = true));
    const big = 'x'.repeat(4096);
    let i = 0;
    const pump = (): void => {
      while (i++ < 10_000) if (!res.write(chunk({ content: big }))) return void res.once('drain', pump);
      res.end(chunk({}, 'stop') + DONE);
    };
    pump();
  });
  // The idle timeout is shorter than the total one, so a relay that took backpressure for idleness
  // would end with cause idle; both are long enough that a stalled upstream cannot reach them first.
  const gw = await gatewayFor(t, up.url, 'timeouts: { totalMs: 3000, idleMs: 1500 }');
  const body = JSON.stringify(STREAM);
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.pause(); // never reads

  const line = await gw.requestLine();
  t.equal(line.error_class, 'timeout', 'the total timeout ended it');
  t.equal(line.error_cause, 'total');
  const metrics = await gw.metrics();
  t.equal(metricValue(metrics, 'bellwether_inflight_requests', { route: 'chat', variant: 'champion' }), 0, 'nothing left in flight');
  await until(async () => upstreamClosed, (closed) => closed, 15_000);
  t.ok(upstreamClosed, 'the upstream request was stopped');
});

t.test('with n = 2, checks read completion 0, not the two interleaved', async (t) => {
  const indexed = (index: number, delta: Record<string, unknown>, finish: string | null = null): string =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index, delta, finish_reason: finish }] })}\n\n`;
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(
      indexed(0, { content: 'Hello' }) + indexed(1, { content: 'Bonjour' }) + indexed(0, { content: ' world' }) + indexed(1, { content: ' monde' }) +
        indexed(0, {}, 'stop') + indexed(1, {}, 'stop') + usage + DONE,
    );
  });
  const gw = await gatewayFor(t, up.url, `checks: [{ name: first, type: equals, value: "Hello world" }]`);
  const res = await postJson(gw.url, '/v1/chat/completions', { ...STREAM, n: 2 });
  t.equal(sseData(res.text).at(-1), '[DONE]');
  const passed = await until(
    async () => metricValue(await gw.metrics(), 'bellwether_quality_checks_total', { route: 'chat', variant: 'champion', model: 'mini', check: 'first', result: 'pass' }) ?? 0,
    (n) => n === 1,
  );
  t.equal(passed, 1, 'the check saw "Hello world"');
});

t.test('a long stream: checks read every chunk in order, with usage reports in between (continuous usage stats)', async (t) => {
  // 100 chunks: most are read after they are relayed, in batches; every 7th carries a usage report
  // (vLLM's continuous_usage_stats) and is read at once. The answer checks and prices must be whole.
  const words = Array.from({ length: 100 }, (_, i) => `w${i} `);
  const body = (i: number): string => {
    const usage = i % 7 === 0 ? { prompt_tokens: 10, completion_tokens: i + 1, total_tokens: i + 11 } : null;
    return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: words[i] }, finish_reason: null }], usage })}\n\n`;
  };
  const finalUsage = { prompt_tokens: 10, completion_tokens: 100, total_tokens: 110 };
  const up = await wireUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(words.map((_, i) => body(i)).join('') + chunk({}, 'stop') + `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: finalUsage })}\n\n` + DONE);
  });
  const gw = await gatewayFor(t, up.url, `checks: [{ name: whole, type: equals, value: "${words.join('')}" }]`);
  const res = await postJson(gw.url, '/v1/chat/completions', STREAM);
  const data = sseData(res.text) as { choices?: { delta?: { content?: string } }[] }[];
  t.equal(data.map((d) => d.choices?.[0]?.delta?.content ?? '').join(''), words.join(''), 'the client got every word');
  const passed = await until(
    async () => metricValue(await gw.metrics(), 'bellwether_quality_checks_total', { route: 'chat', variant: 'champion', model: 'mini', check: 'whole', result: 'pass' }) ?? 0,
    (n) => n === 1,
  );
  t.equal(passed, 1, 'the check saw the whole answer, in order');
  const line = await gw.requestLine();
  t.equal(line.tokens?.output, 100, 'priced from the last usage report');
  t.equal(line.outcome, 'success');
});
