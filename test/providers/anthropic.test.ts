// `type: anthropic` end to end: the official OpenAI SDK talks to the gateway, the gateway talks to a
// faithful fake of the Messages API. Streaming and non-streaming must produce the same text and tool
// calls, errors must come back in OpenAI's shape, and usage (cache reads/writes) must be priced.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { metricValue } from '../helpers/gateway.js';
import { postJson, sseData, startLoggedGateway } from '../resilience/support.js';

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];

async function setup(t: Test, fakeOptions: ConstructorParameters<typeof FakeAnthropic>[0] = {}, route = 'retry: { maxAttempts: 1 }') {
  const fake = await new FakeAnthropic({ apiKey: 'sk-ant-test-key', ...fakeOptions }).start();
  const gw = await startLoggedGateway(`
providers:
  claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: "\${ANTHROPIC_API_KEY}" }
models:
  sonnet: { provider: claude, upstreamModel: claude-sonnet-4-5-20250929 }
routes:
  chat: { champion: sonnet, ${route} }
`, { ANTHROPIC_API_KEY: 'sk-ant-test-key' });
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { fake, gw, client };
}

t.test('text: streaming and non-streaming give the same answer', async (t) => {
  const { fake, client } = await setup(t);
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Tell me about Paris and Lyon.' },
  ];
  const full = await client.chat.completions.create({ model: 'chat', messages, stop: ['NEVER'] });
  let streamed = '';
  let finish: string | null = null;
  let firstRole: string | undefined;
  const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
  for await (const chunk of stream) {
    firstRole ??= chunk.choices[0]?.delta.role;
    streamed += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    t.ok(chunk.choices.length > 0, 'no usage chunk when the client did not ask');
  }
  t.ok(full.choices[0]?.message.content?.includes('Paris'));
  t.equal(streamed, full.choices[0]?.message.content);
  t.equal(firstRole, 'assistant');
  t.equal(finish, 'stop');
  t.equal(full.choices[0]?.finish_reason, 'stop');

  const sent = fake.requests[0];
  t.equal(sent?.path, '/v1/messages');
  t.equal(sent?.headers['x-api-key'], 'sk-ant-test-key');
  t.equal(sent?.headers['anthropic-version'], '2023-06-01');
  t.equal(sent?.body?.system, 'You are terse.');
  t.equal(sent?.body?.max_tokens, 4096);
  t.same(sent?.body?.stop_sequences, ['NEVER']);
  t.equal(sent?.body?.model, 'claude-sonnet-4-5-20250929');
});

t.test('tool calls: streamed deltas assemble to the non-streamed tool calls; results go back', async (t) => {
  const { fake, client } = await setup(t);
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
  const full = await client.chat.completions.create({ model: 'chat', messages, tools: TOOLS, tool_choice: 'required' });
  const call = full.choices[0]?.message.tool_calls?.[0];
  t.equal(full.choices[0]?.finish_reason, 'tool_calls');
  t.equal(call?.type === 'function' ? call.function.name : undefined, 'get_weather');

  const runner = client.chat.completions.stream({ model: 'chat', messages, tools: TOOLS, tool_choice: 'required' });
  const final = await runner.finalChatCompletion();
  const streamedCall = final.choices[0]?.message.tool_calls?.[0];
  t.equal(final.choices[0]?.finish_reason, 'tool_calls');
  t.equal(final.choices[0]?.message.content, full.choices[0]?.message.content, 'same preamble text');
  t.equal(streamedCall?.type === 'function' ? streamedCall.function.name : '', 'get_weather');
  t.same(
    JSON.parse(streamedCall?.type === 'function' ? streamedCall.function.arguments : '{}'),
    JSON.parse(call?.type === 'function' ? call.function.arguments : '{}'),
    'same arguments',
  );
  t.match(streamedCall?.id, /^toolu_/);
  t.same(fake.requests[0]?.body?.tool_choice, { type: 'any' });

  // The tool result goes back as a tool_result block in a user turn; the model then answers in prose.
  const answer = await client.chat.completions.create({
    model: 'chat',
    tools: TOOLS,
    messages: [...messages, full.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '21 °C, sunny' }],
  });
  t.equal(answer.choices[0]?.finish_reason, 'stop');
  const last = fake.requests[fake.requests.length - 1]?.body?.messages;
  t.same(last?.[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: call!.id, content: '21 °C, sunny' }] });
  t.equal((last?.[1]?.content as { type: string }[])[1]?.type, 'tool_use');
});

t.test('usage chunk only when asked, with cache buckets priced from the shipped table', async (t) => {
  const { gw } = await setup(t, { cache: { read: 1000, write: 200 } });
  const body = { model: 'chat', messages: [{ role: 'user', content: 'Summarise Rome.' }], stream: true };
  const asked = await postJson(gw.url, '/v1/chat/completions', { ...body, stream_options: { include_usage: true } });
  const chunks = sseData(asked.text) as { choices?: unknown[]; usage?: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } | null }[];
  const usageChunk = chunks.find((c) => typeof c === 'object' && Array.isArray(c.choices) && c.choices.length === 0);
  t.ok(usageChunk?.usage, 'usage chunk present when asked');
  t.equal(chunks[chunks.length - 1], '[DONE]');
  const line = await gw.requestLine();
  const tokens = line.tokens!;
  t.equal(tokens.cachedInput, 1000);
  t.equal(tokens.cacheWrite, 200);
  t.equal(usageChunk?.usage?.prompt_tokens, tokens.input + 1200);
  // claude-sonnet-4-5 in config/pricing.yaml: 3 in, 0.30 cache read, 3.75 cache write, 15 out per MTok.
  const expected = (tokens.input * 3 + 1000 * 0.3 + 200 * 3.75 + tokens.output * 15) / 1e6;
  t.ok(Math.abs((line.cost_usd ?? 0) - expected) < 1e-12, `cost ${line.cost_usd} = ${expected}`);
  t.equal(line.cost_provenance, 'computed');
  const metrics = await gw.metrics();
  t.equal(metricValue(metrics, 'bellwether_tokens_total', { route: 'chat', model: 'sonnet', type: 'cache_write' }), 200);
});

t.test('errors: OpenAI shape and the right status; 529 overloaded is retried', async (t) => {
  const { fake, client, gw } = await setup(t, {}, 'retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }');
  fake.inject({ kind: 'status', status: 400, message: 'messages: roles must alternate' });
  const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError);
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).status, 400);
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).message, '400 messages: roles must alternate');
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).type, 'invalid_request_error');
  t.equal(fake.requests.length, 1, '4xx is never retried');

  fake.inject({ kind: 'status', status: 529 });
  const ok = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).withResponse();
  t.equal(ok.response.headers.get('x-bellwether-attempts'), '2');
  t.equal(fake.requests.length, 3);

  fake.inject({ kind: 'status', status: 529 }, 2);
  const overloaded = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] });
  t.equal(overloaded.status, 529, 'upstream status preserved');
  t.same(JSON.parse(overloaded.text), { error: { message: 'Overloaded', type: 'server_error', code: 'overloaded_error' } });

  fake.inject({ kind: 'status', status: 401 });
  const auth = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  t.ok(auth instanceof OpenAI.AuthenticationError);
});

t.test('an error event mid-stream is reported in-band and classified', async (t) => {
  const { fake, gw } = await setup(t);
  fake.inject({ kind: 'stream-error', afterEvents: 5, errorType: 'overloaded_error' });
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Describe Oslo.' }], stream: true });
  const data = sseData(res.text);
  t.same(data[data.length - 1], { error: { message: 'Overloaded', type: 'server_error', code: 'overloaded_error' } });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'upstream_5xx');
  t.equal(line.attempts?.length, 1, 'bytes reached the client: no retry');
  t.ok((line.tokens?.input ?? 0) > 0, 'input billed from message_start');
});

t.test('an error event that echoes the API key does not pass it on', async (t) => {
  const { fake, gw } = await setup(t);
  fake.inject({ kind: 'stream-error', afterEvents: 5, errorType: 'authentication_error', message: 'x-api-key sk-ant-test-key was revoked' });
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Describe Oslo.' }], stream: true });
  const data = sseData(res.text);
  t.match(data[data.length - 1], { error: { message: 'x-api-key [REDACTED] was revoked', code: 'authentication_error' } });
  t.notMatch(res.text, 'sk-ant-test-key', 'not in the stream the client reads');
  t.notMatch(JSON.stringify(await gw.requestLine()), 'sk-ant-test-key', 'not in the log line');
});

t.test('n > 1 is refused with a 400 naming n: Anthropic answers with one choice', async (t) => {
  const { fake, client } = await setup(t);
  const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Name a city.' }], n: 3 }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError, 'not one choice passed off as three');
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).type, 'invalid_request_error');
  t.equal((err as InstanceType<typeof OpenAI.BadRequestError>).param, 'n');
  t.equal(fake.requests.length, 0, 'nothing sent upstream');

  const one = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Name a city.' }], n: 1 });
  t.equal(one.choices.length, 1, 'n: 1 is fine');
});

t.test('temperature and top_p together: temperature is sent, top_p dropped (current models reject both)', async (t) => {
  const { fake, client } = await setup(t);
  const res = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Describe Bergen.' }], temperature: 0.3, top_p: 0.9 });
  t.ok(res.choices[0]?.message.content, 'answered, not a 400');
  t.equal(fake.requests[0]?.body?.temperature, 0.3);
  t.equal(fake.requests[0]?.body?.top_p, undefined);

  await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Describe Bergen.' }], top_p: 0.9 });
  t.equal(fake.requests[1]?.body?.top_p, 0.9, 'top_p alone is forwarded');
  t.equal(fake.requests[1]?.body?.temperature, undefined);
});

t.test('stop reasons: a paused turn or a full context window is not a finished answer', async (t) => {
  const cases: [string, string][] = [
    ['pause_turn', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['refusal', 'content_filter'],
  ];
  for (const [stopReason, finish] of cases) {
    const { client } = await setup(t, { stopReason: stopReason as 'pause_turn' });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Search the news about Turku.' }];
    const full = await client.chat.completions.create({ model: 'chat', messages });
    t.equal(full.choices[0]?.finish_reason, finish, `${stopReason} → ${finish}`);
    const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
    let streamed: string | null = null;
    for await (const chunk of stream) streamed = chunk.choices[0]?.finish_reason ?? streamed;
    t.equal(streamed, finish, `${stopReason} → ${finish} (stream)`);
  }
});
