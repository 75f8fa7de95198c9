// With Redis configured, two replicas share datasets and the request-id cache: a request answered by
// replica A can be rated through replica B, and both replicas' samples land in one dataset.
import t from 'tap';
import { request } from 'undici';
import { startRedis } from '../helpers/redis.js';
import { startTestGateway, metricValue, until } from '../helpers/gateway.js';

const ADMIN = 'admin-token-0123456789';
const CONFIG = (redisUrl: string) => `
auth:
  adminTokens: [{ name: sre, token: ${ADMIN} }]
state: { redis: "${redisUrl}" }
providers:
  sim: { type: simulator }
models:
  big: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
routes:
  demo: { champion: big, sampling: { rate: 1 } }
`;


t.test('datasets and feedback attribution are shared through Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const a = await startTestGateway(CONFIG(redis.url));
  const b = await startTestGateway(CONFIG(redis.url));
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const ask = async (url: string, text: string) => {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: text }] }),
    });
    await res.body.text();
    return String(res.headers['x-bellwether-request-id']);
  };
  const idA = await ask(a.url, 'question one for replica A');
  await ask(b.url, 'question two for replica B');

  const exported = await until(
    async () => {
      const res = await request(`${b.url}/admin/v1/datasets/demo/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
      return (await res.body.text()).split('\n').filter(Boolean);
    },
    (lines) => lines.length >= 2,
  );
  t.equal(exported.length, 2, 'both replicas sampled into the one Redis dataset');

  const rated = await until(
    async () => {
      const res = await request(`${b.url}/v1/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request_id: idA, rating: 'positive' }),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    },
    (r) => r.status === 200,
  );
  t.match(rated, { status: 200, body: { route: 'demo', variant: 'champion', model: 'big' } }, 'replica B attributes replica A\'s request');
  const metrics = await (await fetch(`${b.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_feedback_total', { route: 'demo', variant: 'champion', rating: 'positive' }), 1);
});
