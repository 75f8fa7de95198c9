// Two gateway replicas sharing one real redis-server, as an SRE runs them: a change through replica
// A is applied by replica B within a second; two conflicting changes give exactly one 409; a Redis
// outage leaves both serving (last known state, then champion-only), and a restart resyncs them.
import t from 'tap';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { startRedis } from '../helpers/redis.js';
import { startTestGateway, metricValue, type TestGateway } from '../helpers/gateway.js';
import { OTHER_TOKEN, admin, chat, config, waitFor } from './support.js';

interface View {
  percent: number;
  effectivePercent: number;
  version: number;
  state: string;
}

/** Users that land on the challenger at 50 % (sticky hashing), found once and reused. */
const USERS = Array.from({ length: 40 }, (_, i) => `user-${i}`);

async function variants(url: string): Promise<string[]> {
  return Promise.all(USERS.map(async (u) => (await chat(url, u)).variant));
}

interface Readiness {
  code: number;
  status: string;
  routing?: string;
  state: { reachable: boolean; stale: boolean };
}

async function readyz(url: string, query = ''): Promise<Readiness> {
  const res = await request(`${url}/readyz${query}`);
  return { code: res.statusCode, ...((await res.body.json()) as Omit<Readiness, 'code'>) };
}

async function metric(url: string, name: string, labels?: Record<string, string>): Promise<number | undefined> {
  const text = await (await request(`${url}/metrics`)).body.text();
  if (labels) return metricValue(text, name, labels);
  // An unlabelled series: `name value`.
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

t.test('two replicas share one rollout through Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  // Stale after 5 s: the checks of the last known state below (readyz and 40 requests on each replica)
  // take a fraction of that even on a loaded machine, so staleness cannot overtake them.
  const staleAfterSeconds = 5;
  const yaml = config({ redis: redis.url, keyPrefix: `replicas-${process.pid}:`, percent: 0, staleAfterSeconds, resyncIntervalMs: 100 });
  const replicas: TestGateway[] = [];
  t.teardown(() => Promise.all(replicas.map((r) => r.close())));
  replicas.push(await startTestGateway(yaml), await startTestGateway(yaml));
  const [a, b] = replicas as [TestGateway, TestGateway];

  await t.test('both start from the config file, ready and in sync', async (t) => {
    for (const r of [a, b]) {
      t.match(await readyz(r.url), { status: 'ready', state: { reachable: true, stale: false, backend: 'redis' } });
      t.same(new Set(await variants(r.url)), new Set(['champion']), 'challenger at 0 %');
    }
    const history = await admin<{ entries: { action: string }[] }>(b.url, 'GET', '/routes/demo/history');
    t.same(history.json.entries.map((e) => e.action), ['config'], 'one initial entry, not one per replica');
  });

  await t.test('a change through A is applied by B in about a second', async (t) => {
    const started = performance.now();
    const set = await admin<View>(a.url, 'PUT', '/routes/demo/rollout', { percent: 50, reason: 'ramp to 50' });
    t.equal(set.status, 200);
    await waitFor(async () => ((await admin<View>(b.url, 'GET', '/routes/demo')).json.percent === 50 ? true : undefined), 10_000, 5);
    const lag = performance.now() - started;
    // It takes milliseconds; the bound is generous against a loaded machine, as in the resync test below.
    t.ok(lag < 3000, `B applied the change after ${Math.round(lag)} ms`);
    const onA = await variants(a.url);
    const onB = await variants(b.url);
    t.same(onB, onA, 'both replicas put every user on the same arm');
    t.ok(onA.includes('challenger') && onA.includes('champion'), 'both arms in use at 50 %');
    t.equal(await metric(b.url, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0.5, 'B reports the new ratio');
  });

  await t.test('concurrent conflicting changes: exactly one 409', async (t) => {
    const { version } = (await admin<View>(a.url, 'GET', '/routes/demo')).json;
    const before = (await admin<{ entries: unknown[] }>(a.url, 'GET', '/routes/demo/history')).json.entries.length;
    const results = await Promise.all([
      admin<View>(a.url, 'PUT', '/routes/demo/rollout', { percent: 60, reason: 'alice ramps', expectedVersion: version }),
      admin<View>(b.url, 'PUT', '/routes/demo/rollout', { percent: 20, reason: 'bob ramps down', expectedVersion: version }, OTHER_TOKEN),
    ]);
    t.same(results.map((r) => r.status).sort(), [200, 409]);
    const winner = results.find((r) => r.status === 200);
    const after = (await admin<{ entries: unknown[] }>(a.url, 'GET', '/routes/demo/history')).json.entries.length;
    t.equal(after, before + 1, 'only the winner is audited');
    const final = await waitFor(async () => {
      const [va, vb] = await Promise.all([admin<View>(a.url, 'GET', '/routes/demo'), admin<View>(b.url, 'GET', '/routes/demo')]);
      return va.json.version === version + 1 && vb.json.version === version + 1 ? vb.json : undefined;
    });
    t.equal(final.percent, winner?.json.percent, 'both replicas hold the winning change');

    // Without expectedVersion, racing writers still can't both apply on top of the same version.
    const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => admin(i % 2 ? a.url : b.url, 'PUT', '/routes/demo/rollout', { percent: 30 + i, reason: `race ${i}` })));
    const ok = racing.filter((r) => r.status === 200).length;
    const entries = (await admin<{ entries: unknown[] }>(a.url, 'GET', '/routes/demo/history?limit=1000')).json.entries.length;
    t.equal(entries, after + ok, 'every applied change has exactly one audit entry');
    t.ok(racing.every((r) => r.status === 200 || r.status === 409), 'losers get 409');
  });

  await t.test('Redis down: both keep serving the last known rollout, then champion-only', async (t) => {
    await admin<View>(a.url, 'PUT', '/routes/demo/rollout', { percent: 50, reason: 'known state before the outage' });
    await waitFor(async () => ((await admin<View>(b.url, 'GET', '/routes/demo')).json.percent === 50 ? true : undefined));
    const expected = await variants(a.url);
    t.ok(expected.includes('challenger'));

    await redis.kill();
    for (const r of [a, b]) {
      const ready = await waitFor(async () => {
        const body = await readyz(r.url);
        return body.state.reachable ? undefined : body;
      });
      t.match(ready, { code: 503, status: 'degraded', routing: 'last_known_state', state: { stale: false } }, 'readyz shows the outage');
      t.match(await readyz(r.url, '?degraded=ok'), { code: 200, status: 'degraded' }, 'orchestrator probe keeps the replica in service');
      t.same(await variants(r.url), expected, 'last known rollout still applied');
    }
    const refused = await admin(a.url, 'PUT', '/routes/demo/rollout', { percent: 10, reason: 'during outage' });
    t.equal(refused.status, 503, 'changes are refused while Redis is down');

    for (const r of [a, b]) {
      const stale = await waitFor(async () => {
        const body = await readyz(r.url);
        return body.state.stale ? body : undefined;
      }, 30_000);
      t.match(stale, { code: 503, status: 'degraded', routing: 'champion_only' });
      const served = await Promise.all(USERS.map((u) => chat(r.url, u)));
      t.ok(served.every((s) => s.status === 200 && s.variant === 'champion' && s.model === 'a'), 'everyone served by the champion');
      t.equal(await metric(r.url, 'bellwether_rollout_state_stale'), 1);
      t.equal(await metric(r.url, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0);
      t.ok(((await metric(r.url, 'bellwether_rollout_state_age_seconds')) ?? 0) >= staleAfterSeconds, 'state age reported');
    }
  });

  await t.test('Redis back (empty, no persistence): state restored and replicas resync', async (t) => {
    await redis.restart();
    for (const r of [a, b]) {
      await waitFor(async () => ((await readyz(r.url)).status === 'ready' ? true : undefined));
      t.equal(await metric(r.url, 'bellwether_rollout_state_stale'), 0);
    }
    const view = (await admin<View>(a.url, 'GET', '/routes/demo')).json;
    t.match(view, { percent: 50, effectivePercent: 50 }, 'last known state re-seeded into the empty Redis');
    const history = await admin<{ entries: { action: string }[] }>(b.url, 'GET', '/routes/demo/history');
    t.same(history.json.entries.map((e) => e.action), ['reseed'], 'the restore is audited once');

    const set = await admin<View>(b.url, 'PUT', '/routes/demo/rollout', { percent: 100, reason: 'after the outage' });
    t.equal(set.status, 200);
    await waitFor(async () => ((await admin<View>(a.url, 'GET', '/routes/demo')).json.percent === 100 ? true : undefined));
    t.same(new Set(await variants(a.url)), new Set(['challenger']), 'A follows a change made through B');
  });
});

t.test('a replica that missed the pub/sub message still applies the change within about a second', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const prefix = `lost-${process.pid}:`;
  // The default resync interval, as a fleet runs it: the test config's 100 ms override removed.
  const yaml = config({ redis: redis.url, keyPrefix: prefix, percent: 10 }).replace(/, resyncIntervalMs: \d+/, '');
  t.notMatch(yaml, /resyncIntervalMs/);
  const gw = await startTestGateway(yaml);
  t.teardown(() => gw.close());
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());

  // A change whose message never arrived (dropped publish, subscriber reconnecting): the state key
  // moves on in Redis, and nothing is published.
  const key = `${prefix}rollout:state:demo`;
  const stored = JSON.parse((await raw.get(key)) ?? 'null') as { version: number; percent: number; updatedBy: string };
  t.match(stored, { version: 1, percent: 10 });
  const started = performance.now();
  await raw.set(key, JSON.stringify({ ...stored, percent: 50, version: 2, updatedBy: 'alice', updatedAt: new Date().toISOString() }));
  const view = await waitFor(async () => {
    const v = (await admin<View>(gw.url, 'GET', '/routes/demo')).json;
    return v.version === 2 ? v : undefined;
  }, 10_000, 20);
  const lag = performance.now() - started;
  t.match(view, { percent: 50, effectivePercent: 50 });
  // Generous bound against a loaded machine; a 5 s resync interval would miss it every time.
  t.ok(lag < 3000, `applied by resync after ${Math.round(lag)} ms`);
});
