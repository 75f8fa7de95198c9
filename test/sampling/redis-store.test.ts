import t from 'tap';
import { Redis } from 'ioredis';
import { RedisDatasetStore } from '../../src/sampling/redis-store.js';
import { InvalidDatasetNameError } from '../../src/sampling/dataset-store.js';
import { startRedis } from '../helpers/redis.js';
import { collect, makeRecord } from './fixtures/records.js';

const server = await startRedis();
t.teardown(() => server.stop());

let prefixes = 0;
/** Each test gets its own key prefix on the shared server. */
const nextPrefix = (): string => `test${++prefixes}:`;

t.test('append, list and export through a URL-owned connection', async (t) => {
  const store = new RedisDatasetStore({ redis: server.url, keyPrefix: nextPrefix() });
  t.teardown(() => store.close());
  const chat = [makeRecord({ route: 'chat' }), makeRecord({ route: 'chat' })];
  const other = makeRecord({ route: 'other' });
  t.same(await store.append([chat[0]!, other, chat[1]!]), { stored: 3, duplicates: 0, outcomes: ['stored', 'stored', 'stored'] });
  t.same(await collect(store.export('chat')), chat);
  t.same(await collect(store.export('nothing')), []);
  const list = await store.list();
  t.same(list.map((d) => [d.name, d.records]), [['chat', 2], ['other', 1]]);
  t.ok(Date.now() - Date.parse(list[0]?.updatedAt ?? '') < 60_000, 'updatedAt comes from the last entry id');
  t.same(await store.append([]), { stored: 0, duplicates: 0, outcomes: [] });
});

t.test('two replicas share datasets and the dedup window', async (t) => {
  const keyPrefix = nextPrefix();
  const a = new RedisDatasetStore({ redis: server.url, keyPrefix });
  const client = new Redis(server.url);
  const b = new RedisDatasetStore({ redis: client, keyPrefix });
  t.teardown(() => client.disconnect());
  const record = makeRecord({ prompt: 'shared' });
  const sameInput = { ...makeRecord({ prompt: 'shared' }), id: 'from-b' };
  const [ra, rb] = await Promise.all([a.append([record]), b.append([sameInput])]);
  t.same([...ra.outcomes, ...rb.outcomes].sort(), ['duplicate', 'stored']);
  t.equal((await collect(b.export('support-chat'))).length, 1);
  t.same((await b.append([sameInput, sameInput])).outcomes, ['duplicate', 'duplicate']);

  const ttl = await client.ttl(`${keyPrefix}dataset-dedup:support-chat:${record.input_hash}`);
  t.ok(ttl > 0, 'dedup keys expire');

  await a.close();
  await b.close();
  t.equal(client.status, 'ready', 'a caller-owned connection is left open');
});

t.test('export pages through XRANGE and applies filters and limit', async (t) => {
  const store = new RedisDatasetStore({ redis: server.url, keyPrefix: nextPrefix(), pageSize: 3 });
  t.teardown(() => store.close());
  const records = Array.from({ length: 10 }, (_, i) =>
    makeRecord({ variant: i % 2 === 0 ? 'champion' : 'challenger', tags: i < 5 ? ['early'] : [] }),
  );
  await store.append(records);
  t.same((await collect(store.export('support-chat'))).map((r) => r.id), records.map((r) => r.id), 'all pages, in order');
  t.same(
    (await collect(store.export('support-chat', { variant: 'challenger', tags: ['early'] }))).map((r) => r.id),
    [records[1]!.id, records[3]!.id],
  );
  t.equal((await collect(store.export('support-chat', { limit: 4 }))).length, 4);
  t.same(await collect(store.export('support-chat', { since: new Date(Date.now() + 60_000) })), [], 'since narrows the scan');
  t.throws(() => store.export('a/b'), InvalidDatasetNameError);
  await t.rejects(store.append([makeRecord({ route: 'a b' })]), InvalidDatasetNameError);
});

t.test('since finds records sampled on a replica whose clock runs ahead of Redis, and only those', async (t) => {
  const store = new RedisDatasetStore({ redis: server.url, keyPrefix: nextPrefix() });
  t.teardown(() => store.close());
  const now = Date.now();
  // Entry ids come from Redis's clock (about `now`); sampled_at from replicas' clocks, 5 s and 1 s ahead.
  const ahead = makeRecord({ sampledAt: new Date(now + 5000).toISOString() });
  const before = makeRecord({ sampledAt: new Date(now + 1000).toISOString() });
  await store.append([ahead, before]);
  t.same((await collect(store.export('support-chat', { since: new Date(now + 2000) }))).map((r) => r.id), [ahead.id]);
});

t.test('length and age limits', async (t) => {
  const keyPrefix = nextPrefix();
  const client = new Redis(server.url);
  t.teardown(() => client.disconnect());
  const capped = new RedisDatasetStore({ redis: client, keyPrefix, maxLen: 10 });
  await capped.append(Array.from({ length: 500 }, () => makeRecord()));
  const length = await client.xlen(`${keyPrefix}dataset:support-chat`);
  t.ok(length < 500 && length >= 10, `approximately capped (${length})`);

  const agedPrefix = nextPrefix();
  const stream = `${agedPrefix}dataset:support-chat`;
  // An entry written "two hours ago", as an explicit stream id.
  const old = makeRecord();
  await client.xadd(stream, `${Date.now() - 2 * 3600_000}-0`, 'r', JSON.stringify(old));
  await client.sadd(`${agedPrefix}datasets`, 'support-chat');
  const aged = new RedisDatasetStore({ redis: client, keyPrefix: agedPrefix, maxAgeSeconds: 3600 });
  const fresh = makeRecord();
  await aged.append([fresh]);
  t.same((await collect(aged.export('support-chat'))).map((r) => r.id), [fresh.id], 'older than maxAge is not exported');
  const keep = new RedisDatasetStore({ redis: client, keyPrefix: agedPrefix, maxAgeSeconds: 0 });
  t.ok((await collect(keep.export('support-chat'))).length >= 1);
});

t.test('entries that are not records are skipped', async (t) => {
  const keyPrefix = nextPrefix();
  const client = new Redis(server.url);
  t.teardown(() => client.disconnect());
  const store = new RedisDatasetStore({ redis: client, keyPrefix });
  const good = makeRecord();
  await client.xadd(`${keyPrefix}dataset:support-chat`, '*', 'r', '{"truncated');
  await client.xadd(`${keyPrefix}dataset:support-chat`, '*', 'other', 'x');
  await store.append([good]);
  t.same(await collect(store.export('support-chat')), [good]);
});

t.test('an outage rejects append; after Redis comes back on the same port it works again', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.stop());
  const store = new RedisDatasetStore({ redis: own.url, keyPrefix: nextPrefix() });
  t.teardown(() => store.close());
  await store.append([makeRecord()]);
  await own.kill();
  await t.rejects(store.append([makeRecord()]));
  await own.restart();
  const record = makeRecord();
  let result;
  for (let i = 0; i < 50 && result === undefined; i++) {
    result = await store.append([record]).catch(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    });
  }
  t.same(result?.outcomes, ['stored']);
  t.same((await collect(store.export('support-chat'))).map((r) => r.id), [record.id], 'a restarted Redis without persistence starts empty');
});
