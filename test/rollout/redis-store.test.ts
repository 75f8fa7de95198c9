// The Redis store on its own: starting while Redis is down, the audit stream, unreadable data.
import t from 'tap';
import pino from 'pino';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/load.js';
import { RedisRolloutStore } from '../../src/rollout/redis-store.js';
import { StoreUnavailableError } from '../../src/rollout/state.js';
import { parseAuditEntry, parseRolloutState } from '../../src/rollout/codec.js';
import { startRedis } from '../helpers/redis.js';
import { startTestGateway } from '../helpers/gateway.js';
import { admin, config, waitFor } from './support.js';

const silent = pino({ level: 'silent' });
const cfg = parseConfig(config({ percent: 10 }), 'test.yaml', {});

t.test('starting while Redis is down: champion-only until Redis appears, then in sync', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await redis.stop();
  const store = new RedisRolloutStore(cfg, { url: redis.url, keyPrefix: 'down:', staleAfterSeconds: 30, resyncIntervalMs: 100, logger: silent });
  await store.start();
  t.teardown(() => store.close());
  t.match(store.health(), { reachable: false, stale: true, backend: 'redis' }, 'never synced: stale, so the gateway routes to the champion');
  t.match(store.current('demo'), { percent: 10, version: 1 }, 'the file is the best guess meanwhile');
  await t.rejects(store.apply('demo', { action: 'pause', actor: 'a', reason: 'r' }), StoreUnavailableError);

  await redis.restart();
  await waitFor(() => (store.health().stale ? undefined : true));
  t.match(store.health(), { reachable: true, stale: false });
  t.equal(store.health(), store.health(), 'health is one cached object between changes (no allocation per request)');
  const { entries } = await store.history('demo');
  t.same(entries.map((e) => e.action), ['config'], 'the initial rollout was written once Redis was there');
});

t.test('every change lands in an untrimmed audit stream; unreadable state is not adopted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const store = new RedisRolloutStore(cfg, { url: redis.url, keyPrefix: 'audit:', staleAfterSeconds: 30, resyncIntervalMs: 50, logger: silent });
  await store.start();
  t.teardown(() => store.close());
  for (let i = 1; i <= 30; i++) await store.apply('demo', { action: 'set', percent: i, actor: 'loop', reason: `step ${i}` });
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  t.equal(await raw.xlen('audit:rollout:audit:demo'), 31);
  const { entries, dropped } = await store.history('demo', 1000);
  t.equal(entries.length, 31);
  t.equal(dropped, 0);
  t.match(entries[0], { action: 'set', actor: 'loop', reason: 'step 30', from: { percent: 29, version: 30 }, to: { percent: 30, version: 31 } });

  await raw.set('audit:rollout:state:demo', '{"route":"demo","percent":"lots"}');
  // Two more completed syncs, not a fixed sleep: the second one certainly read the garbage (a loaded
  // machine may run no resync at all in a short sleep, and the check would pass without one).
  const seen = new Set([store.health().lastSyncAt]);
  await waitFor(() => (seen.add(store.health().lastSyncAt).size >= 3 ? true : undefined), 10_000);
  t.match(store.current('demo'), { percent: 30, version: 31 }, 'garbage in Redis never replaces the last good state');
});

t.test('codec: only well-formed state and audit entries are accepted', async (t) => {
  const good = { route: 'r', champion: 'a', challenger: 'b', percent: 5, mode: 'split', state: 'active', version: 2, updatedAt: 'x', updatedBy: 'y', origin: 'a->b' };
  t.match(parseRolloutState(JSON.stringify(good)), good);
  t.match(parseRolloutState(JSON.stringify({ ...good, challenger: undefined })), { challenger: undefined });
  for (const bad of ['', 'null', '[]', '{', JSON.stringify({ ...good, percent: 101 }), JSON.stringify({ ...good, mode: 'canary' }), JSON.stringify({ ...good, version: 1.5 }), JSON.stringify({ ...good, champion: 3 })]) {
    t.equal(parseRolloutState(bad), undefined, `rejects ${bad.slice(0, 40)}`);
  }
  t.match(parseAuditEntry(JSON.stringify({ at: 'x', route: 'r', actor: 'a', action: 'set', from: {}, to: { percent: 1 }, reason: 'r' })), { action: 'set' });
  t.equal(parseAuditEntry(JSON.stringify({ at: 'x', route: 'r', actor: 'a', action: 'drop table', from: {}, to: {}, reason: 'r' })), undefined);
  t.equal(parseAuditEntry(undefined), undefined);
});

t.test('one unreadable route in Redis does not make a starting replica champion-only everywhere', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  // Written by something this version can't read (a newer gateway's phase, a hand edit).
  const garbage = JSON.stringify({ route: 'other', champion: 'a', challenger: 'b', percent: 5, mode: 'split', state: 'canary', version: 4 });
  await raw.set('mixed:rollout:state:other', garbage);
  const two = parseConfig(config({ percent: 10, extraRoutes: '  other: { champion: a, challenger: b, rollout: { percent: 20 } }' }), 'test.yaml', {});
  const store = new RedisRolloutStore(two, { url: redis.url, keyPrefix: 'mixed:', staleAfterSeconds: 30, resyncIntervalMs: 50, logger: silent });
  await store.start();
  t.teardown(() => store.close());
  t.match(store.health(), { reachable: true, stale: false }, 'in sync: the readable route is served as stored');
  t.match(store.current('demo'), { percent: 10, version: 1 });
  t.match(store.current('other'), { percent: 20, version: 1 }, 'the unreadable route keeps the file\'s rollout');
  t.equal(await raw.get('mixed:rollout:state:other'), garbage, 'what we cannot read is not overwritten');
  t.same((await store.history('demo')).entries.map((e) => e.action), ['config'], 'the readable route was initialised');
});

t.test('a change Redis accepted too late for an answer is not reported as "no change was made"', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const gw = await startTestGateway(config({ redis: redis.url, keyPrefix: 'slow:' }));
  t.teardown(() => gw.close());
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  // Writes stall far longer than the command timeout (2 s); Redis runs the queued write afterwards.
  // (With a pause only a little longer than the timeout, a loaded machine could send the write late
  // or fire the timeout late, and the write would succeed in time: a 200, not the 503 under test.)
  await raw.client('PAUSE', '7000', 'WRITE');
  const res = await admin<{ error: { message: string; code: string } }>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 40, reason: 'slow redis' });
  t.equal(res.status, 503);
  t.equal(res.json.error.code, 'state_store_unavailable');
  const applied = await waitFor(async () => {
    const view = (await admin<{ percent: number }>(gw.url, 'GET', '/routes/demo')).json;
    return view.percent === 40 ? view : undefined;
  }, 20_000);
  t.match(applied, { percent: 40, version: 2 }, 'the write landed after the timeout');
  t.notMatch(res.json.error.message, /no change was made/, 'so the 503 must not have said it did not');
  t.match(res.json.error.message, /may have been applied/, 'it says to check before retrying');
});
