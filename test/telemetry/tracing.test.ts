// Tracing exports real OTLP/HTTP to a receiver on loopback: a SERVER span per request with the
// routing decision, a CLIENT span per upstream attempt with GenAI attributes, and no content.
import t from 'tap';
import { SPAN_KIND_CLIENT, SPAN_KIND_SERVER, STATUS_ERROR, attrs, hex, startReceiver } from '../helpers/otlp.js';
import { createTracing } from '../../src/telemetry/tracing.js';

t.test('off without an OTLP endpoint: a no-op that records and sends nothing', async (t) => {
  const tracing = createTracing({});
  t.equal(tracing.enabled, false);
  const request = tracing.startRequestSpan({ method: 'POST', path: '/v1/chat/completions', requestId: 'r1' });
  t.equal(request.traceId, undefined);
  request.setRouting({ route: 'demo', variant: 'challenger', model: 'b', forced: false });
  const upstream = tracing.startUpstreamSpan(
    { operation: 'chat', provider: 'openai', requestModel: 'gpt-4o-mini', route: 'demo', variant: 'challenger', attempt: 1 },
    request,
  );
  t.same(upstream.headers(), {}, 'no traceparent sent upstream');
  upstream.end({ outputTokens: 3 });
  request.end({ statusCode: 200, outcome: 'success' });
  t.equal(tracing.currentTraceId(), undefined);
  await tracing.shutdown();
  t.equal(createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }).enabled, false, 'OTEL_SDK_DISABLED wins');
});

t.test('exports request and per-attempt upstream spans over OTLP/HTTP', async (t) => {
  const receiver = await startReceiver(t);
  const tracing = createTracing({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'bellwether-test',
  });
  t.equal(tracing.enabled, true);

  // A challenger request: first attempt times out, the champion fallback answers.
  const request = tracing.startRequestSpan({ method: 'POST', path: '/v1/chat/completions', requestId: 'req-123' });
  t.match(request.traceId, /^[0-9a-f]{32}$/, 'trace id for log lines');
  request.setRouting({ route: 'demo', variant: 'challenger', model: 'sim-b', forced: false, rolloutPercent: 10, rolloutMode: 'split' });
  const first = tracing.startUpstreamSpan(
    { operation: 'chat', provider: 'openai', requestModel: 'gpt-4.1-mini', route: 'demo', variant: 'challenger', attempt: 1, url: 'https://api.openai.com/v1' },
    request,
  );
  const traceparent = first.headers()['traceparent'];
  t.match(traceparent, new RegExp(`^00-${request.traceId ?? 'x'}-[0-9a-f]{16}-01$`), 'traceparent for the upstream call');
  first.end({ errorType: 'timeout' });
  const fallback = tracing.startUpstreamSpan(
    { operation: 'chat', provider: 'anthropic', requestModel: 'claude-haiku', route: 'demo', variant: 'challenger', attempt: 2 },
    request,
  );
  fallback.end({ responseModel: 'claude-haiku-20250101', inputTokens: 12, outputTokens: 34, finishReasons: ['stop'] });
  request.end({ statusCode: 200, outcome: 'success', attempts: 2, answeredBy: 'sim-a' });

  const embeddings = tracing.startUpstreamSpan({
    operation: 'embeddings', provider: 'openai-compatible', requestModel: 'bge-small', route: 'embed', variant: 'champion', attempt: 1,
  });
  embeddings.end({ inputTokens: 5 });

  await tracing.shutdown(); // flushes the batch processor

  t.ok(receiver.paths.every((p) => p === '/v1/traces'), 'posted to {endpoint}/v1/traces');
  t.ok(receiver.contentTypes.every((c) => c.startsWith('application/json')), 'OTLP/HTTP JSON');
  const resourceSpans = receiver.exports.flatMap((e) => e.resourceSpans ?? []);
  t.ok(resourceSpans.some((r) => attrs(r.resource ?? {})['service.name'] === 'bellwether-test'), 'service.name from OTEL_SERVICE_NAME');
  const spans = resourceSpans.flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
  t.equal(spans.length, 4, 'four spans exported');

  const server = spans.find((s) => s.name === 'POST /v1/chat/completions');
  const clients = spans.filter((s) => s.kind === SPAN_KIND_CLIENT);
  t.equal(server?.kind, SPAN_KIND_SERVER);
  t.same(attrs(server ?? {}), {
    'http.request.method': 'POST',
    'http.route': '/v1/chat/completions',
    'bellwether.request_id': 'req-123',
    'bellwether.route': 'demo',
    'bellwether.variant': 'challenger',
    'bellwether.model': 'sim-b',
    'bellwether.forced': false,
    'bellwether.rollout.percent': 10,
    'bellwether.rollout.mode': 'split',
    'http.response.status_code': 200,
    'bellwether.outcome': 'success',
    'bellwether.attempts': 2,
    'bellwether.answered_by': 'sim-a',
  });
  t.notOk(server?.status?.code === STATUS_ERROR, 'a rescued request is not a failed server span');

  const timedOut = clients.find((s) => s.name === 'chat gpt-4.1-mini');
  t.ok(timedOut, 'CLIENT span named "chat {model}"');
  t.equal(hex(timedOut?.traceId), request.traceId, 'same trace as the request');
  t.equal(hex(timedOut?.parentSpanId), hex(server?.spanId), 'child of the request span');
  t.equal(traceparent?.split('-')[2], hex(timedOut?.spanId), 'traceparent carries the attempt span id');
  t.same(attrs(timedOut ?? {}), {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4.1-mini',
    'bellwether.api': 'chat',
    'bellwether.route': 'demo',
    'bellwether.variant': 'challenger',
    'bellwether.attempt': 1,
    'server.address': 'api.openai.com',
    'server.port': 443,
    'error.type': 'timeout',
  });
  t.equal(timedOut?.status?.code, STATUS_ERROR, 'a failed attempt is an error span');

  const answered = clients.find((s) => s.name === 'chat claude-haiku');
  t.equal(hex(answered?.parentSpanId), hex(server?.spanId));
  t.same(attrs(answered ?? {}), {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.request.model': 'claude-haiku',
    'bellwether.api': 'chat',
    'bellwether.route': 'demo',
    'bellwether.variant': 'challenger',
    'bellwether.attempt': 2,
    'gen_ai.response.model': 'claude-haiku-20250101',
    'gen_ai.usage.input_tokens': 12,
    'gen_ai.usage.output_tokens': 34,
    'gen_ai.response.finish_reasons': ['stop'],
  });

  const embed = clients.find((s) => s.name === 'embeddings bge-small');
  t.equal(attrs(embed ?? {})['gen_ai.operation.name'], 'embeddings');
  t.equal(attrs(embed ?? {})['gen_ai.provider.name'], 'openai-compatible');
  t.notOk(embed?.parentSpanId, 'no parent and no active span: a root span');

  const keys = spans.flatMap((s) => Object.keys(attrs(s)));
  t.notOk(
    keys.some((k) => /prompt|completion|content|messages|input\.messages|output\.messages/.test(k)),
    'no prompt or completion content attributes',
  );
});

t.test('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given', async (t) => {
  const receiver = await startReceiver(t);
  const tracing = createTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces` });
  tracing.startRequestSpan({ method: 'GET', path: '/v1/models', requestId: 'r2' }).end({ statusCode: 503, outcome: 'error', errorClass: 'internal' });
  await tracing.shutdown();
  t.same(receiver.paths, ['/custom/traces']);
  const span = receiver.exports[0]?.resourceSpans?.[0]?.scopeSpans?.[0]?.spans?.[0];
  t.equal(span?.status?.code, STATUS_ERROR, '5xx marks the server span failed');
  t.equal(attrs(span ?? {})['error.type'], 'internal');
});
