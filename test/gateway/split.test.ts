// Variant assignment as users see it: proportions, stickiness, and stability when the percent rises.
import t from 'tap';
import { Agent, request } from 'undici';
import { startTestGateway, metricValue } from '../helpers/gateway.js';
import { bucketOf, isChallenger } from '../../src/rollout/assign.js';

const CONFIG = (percent: number, key = 'header:x-user-id') => `
providers:
  sim: { type: simulator }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  b: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }
routes:
  demo:
    champion: a
    challenger: b
    rollout: { percent: ${percent} }
    assignment: { key: "${key}" }
`;

const agent = new Agent({ connections: 32 });
t.teardown(() => agent.close());

async function variantFor(url: string, user?: string): Promise<string> {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', ...(user ? { 'x-user-id': user } : {}) },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
  await res.body.text();
  return String(res.headers['x-bellwether-variant']);
}

async function inBatches<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)))));
  return out;
}

t.test('per-request split over 2,000 requests stays within binomial bounds', async (t) => {
  const gw = await startTestGateway(CONFIG(10, 'request'));
  t.teardown(() => gw.close());
  const n = 2000;
  const variants = await inBatches(n, 50, () => variantFor(gw.url));
  const challengers = variants.filter((v) => v === 'challenger').length;
  // 10 % of 2,000: mean 200, sd = sqrt(2000 * 0.1 * 0.9) ≈ 13.4; ±4.5 sd keeps false alarms < 1e-5.
  const sd = Math.sqrt(n * 0.1 * 0.9);
  t.ok(Math.abs(challengers - 200) < 4.5 * sd, `challenger share ${challengers}/${n}`);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'demo', variant: 'challenger', model: 'b', stream: 'false', outcome: 'success' }), challengers, 'metrics agree with headers');
  t.equal(metricValue(metrics, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0.1);
});

t.test('sticky users: 2,000 distinct users split ~30 %, each always lands on the same arm', async (t) => {
  const gw = await startTestGateway(CONFIG(30));
  t.teardown(() => gw.close());
  const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
  const first = await inBatches(users.length, 50, (i) => variantFor(gw.url, users[i]));
  const share = first.filter((v) => v === 'challenger').length;
  const sd = Math.sqrt(2000 * 0.3 * 0.7);
  t.ok(Math.abs(share - 600) < 4.5 * sd, `challenger users ${share}/2000`);
  const again = await inBatches(200, 50, (i) => variantFor(gw.url, users[i]));
  t.same(again, first.slice(0, 200), 'the same user gets the same arm every time');
});

t.test('raising the percent never moves a challenger user back to the champion', async (t) => {
  const gw = await startTestGateway(CONFIG(5));
  t.teardown(() => gw.close());
  const users = Array.from({ length: 400 }, (_, i) => `u${i}`);
  let previous = await inBatches(users.length, 50, (i) => variantFor(gw.url, users[i]));
  for (const percent of [10, 25, 50, 100]) {
    await gw.gateway.ctx.rollouts.apply('demo', { action: 'set', percent, actor: 'test', reason: 'raise' });
    const now = await inBatches(users.length, 50, (i) => variantFor(gw.url, users[i]));
    const movedBack = now.filter((v, i) => previous[i] === 'challenger' && v !== 'challenger').length;
    t.equal(movedBack, 0, `no challenger user moved back at ${percent} %`);
    previous = now;
  }
  t.ok(previous.every((v) => v === 'challenger'), 'everyone on the challenger at 100 %');
});

t.test('bucket function: stable, uniform, monotone in percent', async (t) => {
  t.equal(bucketOf('demo', 'alice'), bucketOf('demo', 'alice'));
  t.not(bucketOf('demo', 'alice'), bucketOf('other-route', 'alice'), 'routes are salted independently (for this key)');
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[Math.floor(bucketOf('r', `user-${i}`) / 1000)]!++;
  for (const c of counts) t.ok(Math.abs(c - 10_000) < 600, `decile count ${c}`);
  for (let i = 0; i < 5000; i++) {
    const b = bucketOf('r', `k${i}`);
    if (isChallenger(b, 10)) t.ok(isChallenger(b, 10.5) && isChallenger(b, 99), 'monotone');
  }
  t.equal(isChallenger(0, 0), false);
  t.equal(isChallenger(9999, 100), true);
});

t.test('forced variant works only for keys allowed to force it', async (t) => {
  const gw = await startTestGateway(`
auth:
  clientKeys:
    - { name: app, key: app-key-123456 }
    - { name: evals, key: eval-key-123456, canForceVariant: true }
${CONFIG(0).trim()}
`);
  t.teardown(() => gw.close());
  const call = (key: string, variant: string) =>
    request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-bellwether-variant': variant },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const denied = await call('app-key-123456', 'challenger');
  t.equal(denied.statusCode, 403);
  t.equal(((await denied.body.json()) as { error: { code: string } }).error.code, 'variant_forcing_not_allowed');
  const allowed = await call('eval-key-123456', 'challenger');
  await allowed.body.text();
  t.equal(allowed.statusCode, 200);
  t.equal(allowed.headers['x-bellwether-variant'], 'challenger');
  t.equal(allowed.headers['x-bellwether-model'], 'b');
  const bad = await call('eval-key-123456', 'both');
  t.equal(bad.statusCode, 400);
  await bad.body.text();
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_requests_total', { route: 'demo', variant: 'challenger', model: 'b', stream: 'false', outcome: 'success' }), 0, 'forced requests stay out of the rollout series');
  t.equal(metricValue(metrics, 'bellwether_forced_requests_total', { route: 'demo', variant: 'challenger', model: 'b', outcome: 'success' }), 1);
});
