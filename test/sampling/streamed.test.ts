// Streamed answers are sampled whole: the record holds the text the client got, chunk for chunk,
// with the stream's finish reason, usage and time to first token — also for a stream longer than
// the batches its chunks are read in (relay.ts), through an OpenAI-compatible provider.
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
