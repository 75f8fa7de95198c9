// Tracing through a running gateway: one SERVER span per request carrying the routing decision (or,
// for a request refused before routing, why), one CLIENT span per upstream attempt (`chat {model}`,
// gen_ai.* attributes), traceparent sent upstream, trace_id in the log line — and no prompt or
// completion text anywhere in the export.
import t, { type Test } from 'tap';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { request } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { SPAN_KIND_CLIENT, SPAN_KIND_SERVER, attrs, hex, startReceiver } from '../helpers/otlp.js';


/** A traced gateway (OTLP/HTTP JSON to a local receiver) with route `demo` on a fake OpenAI upstream. */
async function tracedGateway(t: Test, o: { route?: string; simulation?: { tokensPerSecond: number }; yaml?: string } = {}) {
  const receiver = await startReceiver(t);
  const upstream = await new FakeUpstream(o.simulation ? { simulation: o.simulation } : {}).start();
  t.teardown(() => upstream.close());
  const config = parseConfig(
    `
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" }
models:
  big: { provider: up, upstreamModel: big-2026 }
routes:
  demo: { champion: big${o.route ? `, ${o.route}` : ''} }
${o.yaml ?? ''}
`,
    'trace.yaml',
    {},
  );
  const tracing = createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
  const gw = await startGateway({ config, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), tracing });
  return { receiver, upstream, gw };
}

t.test('a proxied request exports its spans and logs its trace id', async (t) => {
  const receiver = await startReceiver(t);
  const upstream = await new FakeUpstream().start();
  t.teardown(() => upstream.close());
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const config = parseConfig(
    `
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" }
models:
  big: { provider: up, upstreamModel: big-2026, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  demo: { champion: big }
`,
    'trace.yaml',
    {},
  );
  const tracing = createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
  const gw = await startGateway({ config, port: 0, host: '127.0.0.1', logger: pino({ level: 'info' }, sink), tracing });

  const secret = 'the launch code is 0000-SECRET';
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: secret }] }),
  });
  t.equal(res.statusCode, 200);
  await res.body.text();
  await gw.close(); // shuts tracing down, which flushes the span batch

  const spans = receiver.exports.flatMap((e) => e.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  const server = spans.find((s) => s.kind === SPAN_KIND_SERVER);
  const client = spans.find((s) => s.kind === SPAN_KIND_CLIENT);
  t.ok(server && client, 'a server and a client span');
  if (!server || !client) return;
  t.match(attrs(server), { 'bellwether.route': 'demo', 'bellwether.variant': 'champion', 'bellwether.model': 'big' });
  t.equal(client.name, 'chat big-2026');
  t.equal(hex(client.parentSpanId), hex(server.spanId), 'attempt span is a child of the request span');
  t.match(attrs(client), { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'big-2026', 'gen_ai.response.model': 'big-2026' });
  const upstreamUrl = new URL(upstream.url);
  t.match(attrs(client), { 'server.address': upstreamUrl.hostname, 'server.port': Number(upstreamUrl.port) }, 'which upstream the attempt called');
  t.ok(Number(attrs(client)['gen_ai.usage.output_tokens']) > 0);
  t.same(attrs(client)['gen_ai.response.finish_reasons'], ['stop']);

  const traceId = hex(server.traceId);
  t.match(String(upstream.requests.at(-1)?.headers.traceparent), new RegExp(`^00-${traceId}-`), 'trace context propagated upstream');
  const line = lines.find((l) => l.msg === 'request completed');
  t.equal(line?.trace_id, traceId, 'log line carries trace_id');
  t.notMatch(JSON.stringify(receiver.exports), 'SECRET', 'no prompt content in spans');
  t.notMatch(JSON.stringify(receiver.exports), 'Certainly', 'no completion content in spans');
});

t.test("a client's traceparent makes the request span part of the client's trace", async (t) => {
  const { receiver, upstream, gw } = await tracedGateway(t);

  // The calling application's own span, as its OpenTelemetry SDK sends it.
  const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpanId = '00f067aa0ba902b7';
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${clientTraceId}-${clientSpanId}-01` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] }),
  });
  t.equal(res.statusCode, 200);
  await res.body.text();
  await gw.close();

  const spans = receiver.exports.flatMap((e) => e.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  const server = spans.find((s) => s.kind === SPAN_KIND_SERVER);
  const client = spans.find((s) => s.kind === SPAN_KIND_CLIENT);
  t.equal(hex(server?.traceId), clientTraceId, "the request span joins the client's trace");
  t.equal(hex(server?.parentSpanId), clientSpanId, "the request span is a child of the client's span");
  t.equal(hex(client?.traceId), clientTraceId, 'so is the upstream attempt');
  t.match(String(upstream.requests.at(-1)?.headers.traceparent), new RegExp(`^00-${clientTraceId}-`), "the upstream sees the client's trace");
});

t.test('a streamed answer names the model that answered on its attempt span', async (t) => {
  const { receiver, gw } = await tracedGateway(t);
  for (const path of ['/v1/chat/completions', '/v1/responses']) {
    const body = path === '/v1/responses' ? { model: 'demo', stream: true, input: 'hello' } : { model: 'demo', stream: true, messages: [{ role: 'user', content: 'hello' }] };
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(res.statusCode, 200);
    await res.body.text();
  }
  await gw.close();

  const spans = receiver.exports.flatMap((e) => e.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  const clients = spans.filter((s) => s.kind === SPAN_KIND_CLIENT).map(attrs);
  t.equal(clients.length, 2, 'one attempt span per stream');
  for (const client of clients) {
    t.match(client, { 'gen_ai.response.model': 'big-2026', 'bellwether.api': /chat|responses/ }, `${String(client['bellwether.api'])}: gen_ai.response.model from the stream`);
    t.ok(Array.isArray(client['gen_ai.response.finish_reasons']), 'and its finish reason');
  }
});

t.test('a stream cut before its usage carries estimated token counts, marked as estimates', async (t) => {
  // Chunks 5 ms apart, so those before the cut reach the gateway before the socket is destroyed.
  const { receiver, upstream, gw } = await tracedGateway(t, { route: 'retry: { maxAttempts: 1 }', simulation: { tokensPerSecond: 200 } });
  const send = async () => {
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'Tell me about Graz.' }] }) });
    await res.body.text();
  };
  // Cut after a few content chunks: the client already has part of the answer.
  upstream.inject({ kind: 'cut-stream', afterChunks: 6 });
  await send();
  await send();
  await gw.close();

  const spans = receiver.exports.flatMap((e) => e.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  const [cut, whole] = spans.filter((s) => s.kind === SPAN_KIND_CLIENT).map(attrs);
  t.match(cut, { 'gen_ai.usage.output_tokens': Number, 'bellwether.usage.estimated': true }, 'the cut stream: tokens estimated by the gateway, and it says so');
  t.equal(whole?.['bellwether.usage.estimated'], undefined, 'a stream with its usage report: counts from the provider, no mark');
  t.type(whole?.['gen_ai.usage.output_tokens'], 'number');
});

t.test('a request refused before routing still has its server span, saying why', async (t) => {
  const key = 'bw-app-key-0123456789';
  const { receiver, upstream, gw } = await tracedGateway(t, { yaml: `auth: { clientKeys: [{ name: app, key: "${key}" }] }` });
  const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const send = async (body: string | Readable, headers: Record<string, string> = {}) => {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body,
    });
    await res.body.text();
    return res.statusCode;
  };
  const chat = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });
  t.equal(await send(chat, { authorization: 'Bearer bw-wrong-key-0123456789', traceparent: `00-${clientTraceId}-00f067aa0ba902b7-01` }), 401);
  t.equal(await send(JSON.stringify({ model: 'no-such-route', messages: [] })), 404);
  // A body that is not JSON, arriving in two parts 300 ms apart: the span starts when the request did.
  async function* slowly(): AsyncGenerator<string> {
    yield '{"model": "demo", "messages": [';
    await new Promise((resolve) => setTimeout(resolve, 300));
    yield '{"role": "user"';
  }
  t.equal(await send(Readable.from(slowly())), 400);
  await gw.close();

  const spans = receiver.exports.flatMap((e) => e.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  t.equal(spans.filter((s) => s.kind === SPAN_KIND_CLIENT).length, 0, 'no upstream attempt');
  t.equal(upstream.requests.length, 0);
  const servers = spans.filter((s) => s.kind === SPAN_KIND_SERVER);
  t.same(servers.map((s) => attrs(s)['http.response.status_code']), [401, 404, 400], 'one server span per refused request');
  for (const span of servers) {
    t.match(attrs(span), { 'http.route': '/v1/chat/completions', 'error.type': 'bad_request', 'bellwether.outcome': 'error', 'bellwether.attempts': 0 });
    t.ok(attrs(span)['bellwether.request_id'], 'with the request id the client got');
  }
  t.equal(hex(servers[0]?.traceId), clientTraceId, "a refused request joins the client's trace too");
  const durationMs = (Number(BigInt(servers[2]?.endTimeUnixNano ?? '0') - BigInt(servers[2]?.startTimeUnixNano ?? '0')) / 1e6);
  t.ok(durationMs >= 250, `the slow malformed body's span covers its arrival (${durationMs.toFixed(0)} ms)`);
  t.notOk(JSON.stringify(receiver.exports).includes('key-0123456789'), 'no key in the export');
});
