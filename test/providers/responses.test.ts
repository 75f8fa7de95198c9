// POST /v1/responses, with the official SDK: native for OpenAI (forwarded as-is), translated through
// chat completions for the simulator and Anthropic — split, measured and priced like chat.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { metricValue } from '../helpers/gateway.js';
import { startLoggedGateway } from '../resilience/support.js';

const TOOLS: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'get_weather', description: 'Weather for a city', strict: false, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
];

/** Route `demo` on a chat-completions-only upstream (the fake OpenAI server), so /v1/responses is translated. */
async function chatOnlyRoute(t: Test) {
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers: { local: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { a: { provider: local, upstreamModel: local-model } }
routes: { demo: { champion: a } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  return { upstream, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

/** A minimal native Responses endpoint with the real API's body and event shapes. */
async function fakeNativeResponses(t: Test) {
  const seen: { path: string; body: Record<string, unknown> }[] = [];
  const usage = { input_tokens: 120, input_tokens_details: { cached_tokens: 100 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 20 }, total_tokens: 150 };
  const response = (status: string, text: string) => ({
    id: 'resp_native', object: 'response', created_at: 1, status, error: null, incomplete_details: null, model: 'gpt-4o-mini-2024-07-18',
    output: text ? [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }] : [],
    usage: status === 'completed' ? usage : null, parallel_tool_calls: true, tools: [], tool_choice: 'auto', text: { format: { type: 'text' } },
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      seen.push({ path: req.url ?? '', body });
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(response('completed', 'Native hello.')));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let seq = 0;
      const ev = (type: string, fields: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`);
      ev('response.created', { response: response('in_progress', '') });
      ev('response.output_item.added', { output_index: 0, item: { type: 'message', id: 'msg_1', status: 'in_progress', role: 'assistant', content: [] } });
      ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      for (const d of ['Native ', 'hello.']) ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: d, logprobs: [] });
      ev('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text: 'Native hello.', logprobs: [] });
      ev('response.content_part.done', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: 'Native hello.', annotations: [] } });
      ev('response.output_item.done', { output_index: 0, item: response('completed', 'Native hello.').output[0] });
      ev('response.completed', { response: response('completed', 'Native hello.') });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, usage };
}

t.test('translated (simulator): same text streamed and not, usage and cost', async (t) => {
  const gw = await startLoggedGateway(`
providers: { sim: { type: simulator } }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  demo: { champion: a }
`);
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const { data: full, response } = await client.responses.create({ model: 'demo', instructions: 'Be helpful.', input: 'Tell me about Berlin.' }).withResponse();
  t.equal(full.object, 'response');
  t.equal(full.status, 'completed');
  t.ok(full.output_text.includes('Berlin'));
  t.ok((full.usage?.input_tokens ?? 0) > 0);
  t.match(response.headers.get('x-bellwether-cost-usd'), /^\d+\.\d+$/);
  t.equal(response.headers.get('x-bellwether-route'), 'demo');

  const stream = await client.responses.create({ model: 'demo', instructions: 'Be helpful.', input: 'Tell me about Berlin.', stream: true });
  const types: string[] = [];
  let text = '';
  let completed: OpenAI.Responses.Response | undefined;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  t.equal(text, full.output_text);
  t.equal(types[0], 'response.created');
  t.equal(types[types.length - 1], 'response.completed');
  t.ok(types.includes('response.output_item.added') && types.includes('response.output_text.done'));
  t.same(completed?.usage, full.usage, 'usage on response.completed');

  const line = await gw.requestLine((l) => l.stream === true);
  t.equal(line.operation, 'responses');
  t.ok((line.cost_usd ?? 0) > 0);
  t.ok((line.ttft_ms as number) > 0, 'TTFT measured on output_text deltas');
  const metrics = await gw.metrics();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'demo', variant: 'champion', stream: 'true', outcome: 'success' }), 1);
});

t.test('translated: text.format json_schema keeps its description and is echoed whole', async (t) => {
  const { upstream, client } = await chatOnlyRoute(t);
  const format = {
    type: 'json_schema' as const,
    name: 'people',
    description: 'Every person named in the text, surname first',
    strict: true,
    schema: { type: 'object', properties: { people: { type: 'array', items: { type: 'string' } } }, required: ['people'], additionalProperties: false },
  };
  const res = await client.responses.create({ model: 'demo', input: 'Marie Curie met Albert Einstein.', text: { format } });
  const sent = upstream.requests.at(-1)?.body as { response_format?: unknown };
  t.same(sent.response_format, { type: 'json_schema', json_schema: { name: 'people', description: format.description, schema: format.schema, strict: true } }, 'the description reaches the model');
  t.same(res.text?.format, format, 'the response echoes the format it answered in');
});

t.test('translated: reasoning effort, verbosity, service tier, cache key and safety identifier reach the chat model', async (t) => {
  const { upstream, client } = await chatOnlyRoute(t);
  const res = await client.responses.create({
    model: 'demo',
    input: 'Plan a trip to Graz.',
    reasoning: { effort: 'low' },
    text: { verbosity: 'low' },
    service_tier: 'flex',
    prompt_cache_key: 'trip-planner-v2',
    safety_identifier: 'user-7f3a',
  });
  const sent = upstream.requests.at(-1)?.body as Record<string, unknown>;
  t.match(sent, { reasoning_effort: 'low', verbosity: 'low', service_tier: 'flex', prompt_cache_key: 'trip-planner-v2', safety_identifier: 'user-7f3a' });
  t.notOk('reasoning' in sent, 'chat completions has no reasoning object');
  t.same(res.reasoning, { effort: 'low', summary: null }, 'echoed like the real API');
  t.equal(res.text?.verbosity, 'low');

  const plain = await client.responses.create({ model: 'demo', input: 'Hi' });
  const sentPlain = upstream.requests.at(-1)?.body as Record<string, unknown>;
  t.notOk('reasoning_effort' in sentPlain || 'verbosity' in sentPlain || 'service_tier' in sentPlain, 'nothing added when not asked for');
  t.same(plain.reasoning, { effort: null, summary: null });
});

t.test('translated stream: items open and close one after another, also when a tool call comes before text', async (t) => {
  // A chat model that calls two tools and then says something: each Responses output item must be
  // done before the next is added, and the done events follow output_index, as the real API streams.
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'local-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: null }));
      res.write(chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
      res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] }));
      res.write(chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }));
      res.write(chunk({ tool_calls: [{ index: 1, function: { arguments: '"Graz"}' } }] }));
      res.write(chunk({ content: 'Checking both.' }));
      res.write(chunk({}, 'tool_calls'));
      res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'local-model', choices: [], usage: { prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const gw = await startLoggedGateway(`
providers: { local: { type: openai-compatible, baseUrl: "http://127.0.0.1:${(server.address() as AddressInfo).port}/v1" } }
models: { a: { provider: local, upstreamModel: local-model } }
routes: { demo: { champion: a } }
`);
  t.teardown(() => gw.close());

  const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', input: 'Weather in Oslo and Graz?', tools: TOOLS, stream: true }) });
  const events = (await res.text())
    .split('\n\n')
    .map((block) => block.split('\n').find((line) => line.startsWith('data: ')))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice(6)) as { type: string; output_index?: number; item?: { type: string } });
  const lifecycle = events.filter((e) => e.type === 'response.output_item.added' || e.type === 'response.output_item.done').map((e) => `${e.type.slice(21)} ${e.output_index}`);
  t.same(lifecycle, ['added 0', 'done 0', 'added 1', 'done 1', 'added 2', 'done 2'], 'one item at a time, in output order');
  const doneArgs = events.filter((e) => e.type === 'response.function_call_arguments.done') as unknown as { output_index: number; arguments: string }[];
  t.same(doneArgs.map((e) => [e.output_index, e.arguments]), [[0, '{"city":"Oslo"}'], [1, '{"city":"Graz"}']]);
  const completed = events.at(-1) as unknown as { type: string; response: { output: { type: string }[] } };
  t.equal(completed.type, 'response.completed');
  t.same(completed.response.output.map((o) => o.type), ['function_call', 'function_call', 'message']);

  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const final = await client.responses.stream({ model: 'demo', input: 'Weather in Oslo and Graz?', tools: TOOLS }).finalResponse();
  t.same(final.output.map((o) => o.type), ['function_call', 'function_call', 'message'], 'the SDK assembles the same response');
  t.equal(final.output_text, 'Checking both.');
});

t.test('translated: server-side state (previous_response_id, conversation, store, background) is refused, not ignored', async (t) => {
  const gw = await startLoggedGateway(`
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { demo: { champion: a } }
`);
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const refused = async (body: Record<string, unknown>, param: string) => {
    const err = await client.responses.create({ model: 'demo', input: 'And the next one?', ...body } as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e: unknown) => e);
    t.ok(err instanceof OpenAI.BadRequestError, `${param}: 400`);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    t.equal(e.param, param);
    t.equal(e.code, 'unsupported_parameter');
    t.match(e.message, new RegExp(`${param}.*not supported`));
  };
  await refused({ previous_response_id: 'resp_abc123' }, 'previous_response_id');
  await refused({ previous_response_id: 'resp_abc123', stream: true }, 'previous_response_id');
  await refused({ conversation: 'conv_abc123' }, 'conversation');
  await refused({ store: true }, 'store');
  await refused({ background: true }, 'background');

  const plain = await client.responses.create({ model: 'demo', input: 'Hello Oslo', store: false });
  t.equal(plain.status, 'completed', 'store: false is fine');
  t.equal((plain as { store?: boolean }).store, false, 'and the answer says it was not stored');
  const implicit = await client.responses.create({ model: 'demo', input: 'Hello Oslo' });
  t.equal((implicit as { store?: boolean }).store, false, 'store left out: answered, marked not stored');
});

t.test('translated: a chat-style nested function tool is refused with a message that says so', async (t) => {
  const gw = await startLoggedGateway(`
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { demo: { champion: a } }
`);
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const nested = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
  const err = await client.responses.create({ model: 'demo', input: 'Weather?', tools: [nested as unknown as OpenAI.Responses.Tool] }).catch((e: unknown) => e);
  t.ok(err instanceof OpenAI.BadRequestError);
  const e = err as InstanceType<typeof OpenAI.BadRequestError>;
  t.equal(e.param, 'tools[0].name');
  t.match(e.message, /flat function tools.*nested "function"/);
  t.notMatch(e.message, /only function tools are supported/, 'not told that its function tool is not a function tool');
  const flat = await client.responses.create({ model: 'demo', input: 'Weather in Oslo?', tools: TOOLS });
  t.equal(flat.status, 'completed', 'the flat form works');
});

t.test('translated: tool_choice allowed_tools offers only those tools; hosted-tool choices are refused', async (t) => {
  const { upstream, client } = await chatOnlyRoute(t);
  const tools: OpenAI.Responses.Tool[] = [
    { type: 'function', name: 'delete_account', strict: false, parameters: { type: 'object', properties: {} } },
    ...TOOLS,
  ];
  const res = await client.responses.create({
    model: 'demo',
    input: 'What is the weather in Madrid?',
    tools,
    tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'get_weather' }] },
  });
  const sent = upstream.requests.at(-1)?.body as { tools?: { function: { name: string } }[]; tool_choice?: unknown };
  t.same(sent.tools?.map((tool) => tool.function.name), ['get_weather'], 'only the allowed tool is offered');
  t.equal(sent.tool_choice, 'required', 'with the allowed_tools mode');
  t.same(res.output.filter((o) => o.type === 'function_call').map((o) => (o as OpenAI.Responses.ResponseFunctionToolCall).name), ['get_weather']);

  const hosted = await client.responses.create({ model: 'demo', input: 'x', tools, tool_choice: { type: 'file_search' } }).catch((e: unknown) => e);
  t.ok(hosted instanceof OpenAI.BadRequestError, 'a hosted-tool choice: 400, not a nameless function choice');
  t.match(hosted, { param: 'tool_choice', code: 'unsupported_tool_choice', message: /file_search/ });
  const none = await client.responses
    .create({ model: 'demo', input: 'x', tools, tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'nope' }] } })
    .catch((e: unknown) => e);
  t.match(none, { status: 400, param: 'tool_choice.tools' });
});

t.test('translated (anthropic): tool calls both ways, with the SDK stream helper', async (t) => {
  const fake = await new FakeAnthropic({ apiKey: 'sk-ant-test-key' }).start();
  const gw = await startLoggedGateway(`
providers: { claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: sk-ant-test-key } }
models: { haiku: { provider: claude, upstreamModel: claude-haiku-4-5 } }
routes: { agent: { champion: haiku } }
`);
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const input = 'What is the weather in Madrid?';
  const full = await client.responses.create({ model: 'agent', input, tools: TOOLS, tool_choice: 'required' });
  const call = full.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call');
  t.equal(call?.name, 'get_weather');
  t.match(call?.call_id, /^toolu_/);

  const events = await client.responses.create({ model: 'agent', input, tools: TOOLS, tool_choice: 'required', stream: true });
  const added = new Map<string, string>();
  const done: OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent[] = [];
  for await (const e of events) {
    if (e.type === 'response.output_item.added' && e.item.type === 'function_call') added.set(e.item.id ?? '', e.item.name);
    if (e.type === 'response.function_call_arguments.done') done.push(e);
  }
  t.equal(done.length, 1, 'one function_call_arguments.done');
  t.equal(done[0]?.name, 'get_weather', 'it names the function, as the real API does');
  t.equal(added.get(done[0]?.item_id ?? ''), 'get_weather', 'and refers to the added item');
  t.same(JSON.parse(done[0]?.arguments ?? 'null'), JSON.parse(call?.arguments ?? '{}'));

  const final = await client.responses.stream({ model: 'agent', input, tools: TOOLS, tool_choice: 'required' }).finalResponse();
  const streamedCall = final.output.find((o) => o.type === 'function_call');
  t.equal(streamedCall?.type === 'function_call' ? streamedCall.name : undefined, call?.name);
  t.same(JSON.parse(streamedCall?.type === 'function_call' ? streamedCall.arguments : '{}'), JSON.parse(call?.arguments ?? '{}'));
  t.equal(final.output_text, full.output_text, 'same text (the preamble) both ways');

  const answer = await client.responses.create({
    model: 'agent',
    tools: TOOLS,
    input: [
      { role: 'user', content: input },
      { type: 'function_call', call_id: call!.call_id, name: call!.name, arguments: call!.arguments },
      { type: 'function_call_output', call_id: call!.call_id, output: '30 °C' },
    ],
  });
  t.equal(answer.status, 'completed');
  t.ok(answer.output_text.length > 0);
  const sent = fake.requests[fake.requests.length - 1]?.body?.messages;
  t.same(sent?.[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: call!.call_id, content: '30 °C' }] });
});

t.test('native (openai): forwarded as-is, priced from response.completed', async (t) => {
  const native = await fakeNativeResponses(t);
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${native.url}/v1", apiKey: sk-test-123 } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { demo: { champion: mini } }
`);
  t.teardown(() => gw.close());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const full = await client.responses.create({ model: 'demo', input: 'hi' });
  t.equal(full.output_text, 'Native hello.');
  t.equal(native.seen[0]?.path, '/v1/responses');
  t.equal(native.seen[0]?.body.model, 'gpt-4o-mini');

  const stream = await client.responses.create({ model: 'demo', input: 'hi', stream: true });
  let text = '';
  for await (const e of stream) if (e.type === 'response.output_text.delta') text += e.delta;
  t.equal(text, 'Native hello.');
  t.notOk('stream_options' in native.seen[1]!.body, 'no chat-only stream_options on the Responses API');
  const line = await gw.requestLine((l) => l.stream === true);
  // gpt-4o-mini list price: 0.15 input, 0.075 cached, 0.60 output per MTok; reasoning is inside output.
  t.same(line.tokens, { input: 20, cachedInput: 100, cacheWrite: 0, output: 30, reasoning: 20 });
  t.ok(Math.abs((line.cost_usd ?? 0) - (20 * 0.15 + 100 * 0.075 + 30 * 0.6) / 1e6) < 1e-15);
});

t.test('split across providers: an Anthropic challenger that fails falls back to the native champion', async (t) => {
  const native = await fakeNativeResponses(t);
  const fake = await new FakeAnthropic({ apiKey: 'sk-ant-test-key' }).start();
  const gw = await startLoggedGateway(`
providers:
  openai: { type: openai, baseUrl: "${native.url}/v1", apiKey: sk-test-123 }
  claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: sk-ant-test-key }
models:
  mini: { provider: openai, upstreamModel: gpt-4o-mini }
  haiku: { provider: claude, upstreamModel: claude-haiku-4-5 }
routes:
  demo: { champion: mini, challenger: haiku, rollout: { percent: 100 }, fallback: champion }
`);
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ok = await client.responses.create({ model: 'demo', input: 'Hello Lisbon' }).withResponse();
  t.equal(ok.response.headers.get('x-bellwether-model'), 'haiku', 'challenger answers through translation');
  t.ok(ok.data.output_text.includes('Lisbon'));

  fake.inject({ kind: 'status', status: 529 });
  const rescued = await client.responses.create({ model: 'demo', input: 'Hello Lisbon', stream: true }).withResponse();
  let text = '';
  for await (const e of rescued.data) if (e.type === 'response.output_text.delta') text += e.delta;
  t.equal(text, 'Native hello.');
  t.equal(rescued.response.headers.get('x-bellwether-fallback'), 'true');
  t.equal(rescued.response.headers.get('x-bellwether-variant'), 'challenger');
  t.equal(rescued.response.headers.get('x-bellwether-model'), 'mini');
});
