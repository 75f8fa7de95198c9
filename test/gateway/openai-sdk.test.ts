// A user's journey: point the official openai SDK at Bellwether and change nothing else.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { startTestGateway, metricValue } from '../helpers/gateway.js';

const PROVIDER_KEY = 'sk-provider-secret-0123456789';
const CLIENT_KEY = 'client-key-abcdef-123456';

async function setup(t: Test) {
  const upstream = await new FakeUpstream({ apiKey: PROVIDER_KEY, simulation: { tokensPerSecond: 2000 } }).start();
  const gw = await startTestGateway(
    `
auth:
  clientKeys: [{ name: app, key: "\${CLIENT_KEY}" }]
providers:
  up: { type: openai-compatible, baseUrl: "${upstream.url}/v1", apiKey: "\${UP_KEY}" }
models:
  big: { provider: up, upstreamModel: big-2026, pricing: { inputPerMTok: 2.5, cachedInputPerMTok: 1.25, outputPerMTok: 10 } }
  small: { provider: up, upstreamModel: small-2026, pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 } }
routes:
  chat:
    aliases: [gpt-4o-mini]
    champion: big
    challenger: small
    rollout: { percent: 0 }
`,
    { CLIENT_KEY, UP_KEY: PROVIDER_KEY },
  );
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  return { upstream, gw, client };
}


t.test('non-streaming chat completion through the SDK, with Bellwether headers', async (t) => {
  const { upstream, gw, client } = await setup(t);
  const { data, response } = await client.chat.completions
    .create({ model: 'chat', messages: [{ role: 'user', content: 'Say hello to Ada Lovelace' }] })
    .withResponse();
  t.equal(data.object, 'chat.completion');
  t.match(data.choices[0]?.message.content, /Ada Lovelace/);
  t.equal(response.headers.get('x-bellwether-route'), 'chat');
  t.equal(response.headers.get('x-bellwether-variant'), 'champion');
  t.equal(response.headers.get('x-bellwether-model'), 'big');
  t.equal(response.headers.get('x-bellwether-attempts'), '1');
  t.match(response.headers.get('x-bellwether-request-id'), /^[0-9a-f-]{36}$/);
  const usage = data.usage!;
  const expected = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6;
  t.equal(Number(response.headers.get('x-bellwether-cost-usd')), Number(expected.toFixed(8)));

  const seen = upstream.requests.at(-1)!;
  t.equal(seen.body?.model, 'big-2026', 'upstream gets the configured upstream model');
  t.equal(seen.headers.authorization, `Bearer ${PROVIDER_KEY}`, 'provider key replaces the client key');
  t.notMatch(JSON.stringify(seen.headers), CLIENT_KEY, 'client key never reaches the provider');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'big', stream: 'false', outcome: 'success' }), 1);
  t.notMatch(metrics, CLIENT_KEY);
  t.notMatch(metrics, PROVIDER_KEY);
});

t.test('streaming: chunks relayed, usage captured upstream, usage chunk stripped unless asked', async (t) => {
  const { upstream, gw, client } = await setup(t);
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me about Grace Hopper' }] });
  let text = '';
  let usageChunks = 0;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usageChunks++;
  }
  t.ok(chunks > 3, 'several chunks');
  t.match(text, /Grace Hopper/);
  t.equal(usageChunks, 0, 'client did not ask for usage: none relayed');
  t.same((upstream.requests.at(-1)!.body as { stream_options?: unknown }).stream_options, { include_usage: true }, 'gateway asked upstream for usage');

  const withUsage = await client.chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
  t.ok(usage && usage.completion_tokens > 0, 'client asked for usage: relayed');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'big', stream: 'true', outcome: 'success' }), 2);
  t.ok((metricValue(metrics, 'bellwether_cost_usd_total', { route: 'chat', variant: 'champion', model: 'big' }) ?? 0) > 0, 'streamed calls are priced');
  t.equal(metricValue(metrics, 'bellwether_cost_unknown_total', { route: 'chat', variant: 'champion', model: 'big' }), 0);
  t.equal(metricValue(metrics, 'bellwether_time_to_first_token_seconds_count', { route: 'chat', variant: 'champion', model: 'big' }), 2);
});

t.test('tools: a tool call comes back, and the tool result round-trips', async (t) => {
  const { client } = await setup(t);
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  ];
  const first = await client.chat.completions.create({ model: 'chat', tools, messages: [{ role: 'user', content: 'Weather in Lisbon?' }] });
  const call = first.choices[0]?.message.tool_calls?.[0];
  t.equal(first.choices[0]?.finish_reason, 'tool_calls');
  t.ok(call && call.type === 'function');
  if (!call || call.type !== 'function') return;
  t.equal(call.function.name, 'get_weather');
  t.same(JSON.parse(call.function.arguments), { city: 'Lisbon' });

  const streamed = await client.chat.completions.create({ model: 'chat', tools, stream: true, messages: [{ role: 'user', content: 'Weather in Lisbon?' }] });
  let args = '';
  let name = '';
  for await (const chunk of streamed) {
    const d = chunk.choices[0]?.delta.tool_calls?.[0];
    name += d?.function?.name ?? '';
    args += d?.function?.arguments ?? '';
  }
  t.equal(name, 'get_weather');
  t.same(JSON.parse(args), { city: 'Lisbon' }, 'streamed argument fragments reassemble');

  const second = await client.chat.completions.create({
    model: 'chat',
    tools,
    messages: [
      { role: 'user', content: 'Weather in Lisbon?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 21}' },
    ],
  });
  t.equal(second.choices[0]?.finish_reason, 'stop');
  t.type(second.choices[0]?.message.content, 'string');
});

t.test('response_format json_schema returns JSON matching the schema', async (t) => {
  const { client } = await setup(t);
  const res = await client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'Extract people: Marie Curie met Albert Einstein in Brussels.' }],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'people', schema: { type: 'object', properties: { people: { type: 'array', items: { type: 'string' } } }, required: ['people'] } },
    },
  });
  const parsed = JSON.parse(res.choices[0]?.message.content ?? '') as { people: string[] };
  t.ok(parsed.people.includes('Marie Curie') && parsed.people.includes('Albert Einstein'));
});

t.test('embeddings and models', async (t) => {
  const { client } = await setup(t);
  const emb = await client.embeddings.create({ model: 'chat', input: ['a', 'b'] });
  t.equal(emb.data.length, 2);
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id).sort();
  t.same(ids, ['chat', 'gpt-4o-mini']);
});

t.test('embeddings: the SDK default (base64) and encoding_format float give the same vectors', async (t) => {
  const { upstream, client } = await setup(t);
  // Without encoding_format the SDK asks for base64 and decodes float32 bytes itself.
  const decoded = await client.embeddings.create({ model: 'chat', input: ['a', 'b'] });
  t.equal((upstream.requests.at(-1)!.body as { encoding_format?: string }).encoding_format, 'base64', 'the SDK asked for base64');
  const floats = await client.embeddings.create({ model: 'chat', input: ['a', 'b'], encoding_format: 'float' });
  t.equal(decoded.data.length, 2);
  for (const [i, item] of floats.data.entries()) {
    const vector = decoded.data[i]!.embedding;
    t.equal(vector.length, 16, 'every dimension decoded');
    t.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-5, 'a unit vector, not bytes read as floats');
    t.ok(vector.every((x, d) => Math.abs(x - item.embedding[d]!) < 1e-6), 'same vector as encoding_format float');
  }
  const small = await client.embeddings.create({ model: 'chat', input: 'a', dimensions: 8 });
  t.equal(small.data[0]!.embedding.length, 8, 'dimensions honoured');
});

t.test('embeddings from a simulator provider: base64 decodes the same as float', async (t) => {
  const gw = await startTestGateway(`
providers: { sim: { type: simulator } }
models: { m: { provider: sim } }
routes: { emb: { champion: m } }
`);
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const decoded = await client.embeddings.create({ model: 'emb', input: 'hello' });
  const floats = await client.embeddings.create({ model: 'emb', input: 'hello', encoding_format: 'float' });
  t.equal(decoded.data[0]!.embedding.length, floats.data[0]!.embedding.length);
  t.ok(decoded.data[0]!.embedding.every((x, d) => Math.abs(x - floats.data[0]!.embedding[d]!) < 1e-6));
});

t.test('models.retrieve answers for a route or alias, and 404s for anything else', async (t) => {
  const { upstream, client } = await setup(t);
  const before = upstream.requests.length;
  const route = await client.models.retrieve('chat');
  t.equal(route.id, 'chat');
  t.equal(route.object, 'model');
  const alias = await client.models.retrieve('gpt-4o-mini');
  t.equal(alias.id, 'gpt-4o-mini', 'an app that checks its model name finds it');
  const missing = await client.models.retrieve('gpt-5-ultra').catch((e: unknown) => e);
  t.ok(missing instanceof OpenAI.NotFoundError, 'unknown model: 404');
  t.equal((missing as InstanceType<typeof OpenAI.NotFoundError>).code, 'model_not_found');
  t.equal(upstream.requests.length, before, 'answered by the gateway, not the upstream (which knows no routes)');
});

t.test('upstream errors keep their status and OpenAI shape; the SDK raises the right class', async (t) => {
  const { upstream, gw, client } = await setup(t);
  upstream.inject({ kind: 'status', status: 400, body: { error: { message: 'Invalid value for temperature', type: 'invalid_request_error', param: 'temperature', code: null } } });
  const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError);
  t.match((err as InstanceType<typeof OpenAI.BadRequestError>).message, /Invalid value for temperature/);

  upstream.inject({ kind: 'status', status: 429, retryAfter: '7' });
  const limited = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(limited instanceof OpenAI.RateLimitError);
  t.equal((limited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'), '7', 'Retry-After relayed to the client');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'big', stream: 'false', error_class: 'upstream_4xx' }), 1);
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'big', stream: 'false', error_class: 'rate_limited' }), 1);
});

t.test('a bare upstream status arrives with the type and code OpenAI sends for it', async (t) => {
  const { upstream, client } = await setup(t);
  const expected: [number, string, string | null][] = [
    [400, 'invalid_request_error', null],
    [404, 'invalid_request_error', 'model_not_found'],
    [429, 'requests', 'rate_limit_exceeded'],
    [500, 'server_error', null],
    [503, 'server_error', null],
  ];
  for (const [status, type, code] of expected) {
    upstream.inject({ kind: 'status', status });
    const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    t.ok(err instanceof OpenAI.APIError, `${status}: an API error`);
    t.match(err, { status, type, code }, `${status}: ${type}`);
  }
  // The SDK straight at the fake: a 429 carries OpenAI's rate-limit headers.
  const direct = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: PROVIDER_KEY, maxRetries: 0 });
  upstream.inject({ kind: 'status', status: 429, retryAfter: '2' });
  const limited = (await direct.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
  t.ok(limited instanceof OpenAI.RateLimitError);
  t.equal(limited.headers?.get('retry-after'), '2');
  t.equal(limited.headers?.get('x-ratelimit-remaining-requests'), '0');
  for (const h of ['limit-requests', 'reset-requests', 'limit-tokens', 'remaining-tokens', 'reset-tokens']) t.ok(limited.headers?.get(`x-ratelimit-${h}`), `x-ratelimit-${h}`);
});

t.test('other /v1 paths pass through to the champion provider with its key', async (t) => {
  const { upstream, gw } = await setup(t);
  const res = await fetch(`${gw.url}/v1/files?purpose=batch`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  t.equal(res.status, 200);
  const body = (await res.json()) as { path: string };
  t.equal(body.path, '/v1/files?purpose=batch');
  t.equal(upstream.requests.at(-1)?.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  t.match(res.headers.get('x-bellwether-request-id'), /^[0-9a-f-]{36}$/, 'pass-through answers carry a request id too');
  t.equal(res.headers.get('x-bellwether-route'), 'chat');
  t.equal(res.headers.get('x-bellwether-variant'), 'champion');
  t.equal(res.headers.get('x-bellwether-model'), 'big', "the champion's provider answered");
  t.equal(res.headers.get('x-bellwether-attempts'), '1');
  const unknown = await fetch(`${gw.url}/nope`);
  t.equal(unknown.status, 404);
  t.match(unknown.headers.get('x-bellwether-request-id'), /^[0-9a-f-]{36}$/, 'so does a 404 for an unknown path');
  const denied = await fetch(`${gw.url}/v1/files`, { headers: { authorization: 'Bearer wrong-key-123456' } });
  t.equal(denied.status, 401, 'pass-through is authenticated too');
});

t.test('n=2: both choices reach the client, streamed and not, and usage covers both', async (t) => {
  const { upstream, gw, client } = await setup(t);
  const messages = [{ role: 'user' as const, content: 'Tell me about Katherine Johnson' }];
  const { data, response } = await client.chat.completions.create({ model: 'chat', n: 2, messages }).withResponse();
  t.equal(upstream.requests.at(-1)?.body?.n, 2, 'n reached the upstream');
  t.equal(data.choices.length, 2);
  t.same(data.choices.map((c) => c.index), [0, 1]);
  for (const c of data.choices) t.match(c.message.content, /Katherine Johnson/);
  const usage = data.usage!;
  t.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  const single = await client.chat.completions.create({ model: 'chat', messages });
  t.equal(usage.completion_tokens, 2 * single.usage!.completion_tokens, 'completion tokens count both choices');
  t.equal(usage.prompt_tokens, single.usage!.prompt_tokens, 'the prompt counts once');
  const expected = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6;
  t.equal(Number(response.headers.get('x-bellwether-cost-usd')), Number(expected.toFixed(8)), 'priced on both choices');

  const stream = await client.chat.completions.create({ model: 'chat', n: 2, stream: true, stream_options: { include_usage: true }, messages });
  const text = ['', ''];
  const finished: (string | null)[] = [null, null];
  const order: number[] = [];
  let usageChunks = 0;
  let streamedOutput = 0;
  for await (const chunk of stream) {
    if (chunk.usage) {
      usageChunks++;
      streamedOutput = chunk.usage.completion_tokens;
      t.equal(chunk.usage.total_tokens, chunk.usage.prompt_tokens + chunk.usage.completion_tokens);
    }
    for (const c of chunk.choices) {
      order.push(c.index);
      text[c.index] += c.delta?.content ?? '';
      if (c.finish_reason) finished[c.index] = c.finish_reason;
    }
  }
  for (const i of [0, 1]) t.match(text[i], /Katherine Johnson/, `choice ${i} streamed in full`);
  t.same(finished, ['stop', 'stop']);
  t.ok(order.slice(0, 4).includes(1), 'the choices interleave');
  t.equal(usageChunks, 1, 'one usage chunk, as asked');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'chat', variant: 'champion', model: 'big', stream: 'true', outcome: 'success' }), 1);
  t.equal(metricValue(metrics, 'bellwether_tokens_total', { route: 'chat', variant: 'champion', model: 'big', type: 'output' }), usage.completion_tokens + streamedOutput + single.usage!.completion_tokens, 'output tokens of every choice of every call');
});
