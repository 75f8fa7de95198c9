// Answers are sampled as the client got them. Streamed ones whole: the record holds the text, chunk
// for chunk, with the stream's finish reason, usage and time to first token — also for a stream
// longer than the batches its chunks are read in (relay.ts). JSON ones with their text or tool calls,
// on a route without online checks (nothing else reads the answer before sampling does). Both
// through an OpenAI-compatible provider.
import t from 'tap';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { startTestGateway, until } from '../helpers/gateway.js';

const ADMIN = 'admin-token-0123456789';

t.test('a sampled stream records the whole answer the client got', async (t) => {
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 2000 } }).start();
  t.teardown(() => upstream.close());
  const dir = t.testdir({});
  const gw = await startTestGateway(`
auth: { adminTokens: [{ name: sre, token: ${ADMIN} }] }
providers: { up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { mini: { provider: up, upstreamModel: gpt-4o-mini, pricing: { inputPerMTok: 1, outputPerMTok: 2 } } }
routes: { chat: { champion: mini, sampling: { rate: 1 } } }
datasets: { dir: ${dir} }
`);
  t.teardown(() => gw.close());

  const streamed: string[] = [];
  for (const maxTokens of [5, 90]) {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `Tell me about Prague in ${maxTokens} words.` }], stream: true, max_tokens: maxTokens }),
    });
    t.equal(res.statusCode, 200);
    const chunks = (await res.body.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string } }[] });
    streamed.push(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''));
  }
  t.ok((streamed[1] ?? '').split(' ').length > 40, 'the long answer spans more than one batch of chunks');

  const exported = async () => {
    const res = await request(`${gw.url}/admin/v1/datasets/chat/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.body.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  };
  const records = await until(exported, (r) => r.length >= 2);
  for (const [i, maxTokens] of [5, 90].entries()) {
    const record = records.find((r) => JSON.stringify(r.request.messages).includes(`in ${maxTokens} words`));
    t.ok(record, `the ${maxTokens}-token stream was sampled`);
    t.equal(record?.response.content, streamed[i], 'its text, chunk for chunk');
    t.match(record?.response.finish_reason, /^(length|stop)$/);
    t.ok(record?.usage?.output_tokens > 0, 'its usage');
    t.type(record?.ttft_s, 'number', 'its time to first token');
    t.ok(record?.cost_usd > 0, 'priced');
  }
});

t.test('a sampled JSON answer records its text, tool calls and finish reason', async (t) => {
  const upstream = await new FakeUpstream().start();
  t.teardown(() => upstream.close());
  const dir = t.testdir({});
  const gw = await startTestGateway(`
auth: { adminTokens: [{ name: sre, token: ${ADMIN} }] }
providers: { up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { mini: { provider: up, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, sampling: { rate: 1 } } }
datasets: { dir: ${dir} }
`);
  t.teardown(() => gw.close());

  const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  const answers: { content: string | null; tool_calls?: unknown[]; finish_reason: string }[] = [];
  for (const body of [
    { model: 'chat', messages: [{ role: 'user', content: 'Tell me about Prague.' }] },
    { model: 'chat', messages: [{ role: 'user', content: 'Weather in Brno?' }], tools: [weather] },
  ]) {
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(res.statusCode, 200);
    const choice = ((await res.body.json()) as { choices: { message: { content: string | null; tool_calls?: unknown[] }; finish_reason: string }[] }).choices[0];
    answers.push({ ...(choice?.message ?? { content: null }), finish_reason: choice?.finish_reason ?? '' });
  }
  t.ok((answers[0]?.content ?? '').length > 0, 'the first answer is text');
  t.ok((answers[1]?.tool_calls ?? []).length > 0, 'the second calls a tool');

  const exported = async () => {
    const res = await request(`${gw.url}/admin/v1/datasets/chat/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.body.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  };
  const records = await until(exported, (r) => r.length >= 2);
  const text = records.find((r) => JSON.stringify(r.request.messages).includes('Prague'));
  t.same(text?.response, { content: answers[0]?.content, finish_reason: 'stop' }, 'the text the client got');
  const call = records.find((r) => JSON.stringify(r.request.messages).includes('Brno'));
  t.same(call?.response, { content: null, tool_calls: answers[1]?.tool_calls, finish_reason: 'tool_calls' }, 'the tool calls the client got');
});
