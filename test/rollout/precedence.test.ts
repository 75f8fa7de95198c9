// The precedence rule between the config file and runtime changes (README "Precedence"): the file sets the
// initial rollout, runtime changes win until the file names a new champion or challenger, which
// starts a new rollout version. Checked for the pure rule, the memory store and the Redis store.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { MemoryRolloutStore } from '../../src/rollout/memory-store.js';
import { RedisRolloutStore } from '../../src/rollout/redis-store.js';
import { fromConfig, reconcile, transition } from '../../src/rollout/state.js';
import { startRedis } from '../helpers/redis.js';
import { admin, config, waitFor } from './support.js';

const silent = pino({ level: 'silent' });
const routeOf = (yaml: string) => {
  const route = parseConfig(yaml, 'test.yaml', {}).routes.demo;
  if (!route) throw new Error('no demo route');
  return route;
};

t.test('reconcile: the rule itself', async (t) => {
  const now = new Date();
  const file = routeOf(config({ percent: 10 }));
  const initial = fromConfig(file, 1, now);
  t.equal(reconcile(initial, file, now), undefined, 'same file: nothing to do');
  t.match(reconcile(initial, routeOf(config({ percent: 20 })), now), { percent: 20, version: 2, updatedBy: 'config' }, 'untouched rollout follows a new percent in the file');

  const changed = transition(initial, { action: 'set', percent: 40, actor: 'alice', reason: 'r' }, now);
  t.equal(reconcile(changed, routeOf(config({ percent: 20 })), now), undefined, 'a runtime change overrides the file percent');
  t.match(reconcile(changed, routeOf(config({ percent: 20, challenger: 'c' })), now), { challenger: 'c', percent: 20, version: 3, state: 'active' }, 'a new challenger starts a new rollout');

  const promoted = transition(changed, { action: 'promote', actor: 'alice', reason: 'r' }, now);
  t.equal(reconcile(promoted, file, now), undefined, 'a promotion stands until the file changes champion/challenger');
});

t.test('memory store: reconfigure applies the rule and audits it', async (t) => {
  const store = new MemoryRolloutStore(parseConfig(config({ percent: 10 }), 'test.yaml', {}));
  await store.apply('demo', { action: 'set', percent: 30, actor: 'alice', reason: 'r' });
  await store.reconfigure(parseConfig(config({ percent: 15 }), 'test.yaml', {}), 'bob');
  t.equal(store.current('demo')?.percent, 30, 'runtime change kept');
  await store.reconfigure(parseConfig(config({ percent: 15, challenger: 'c' }), 'test.yaml', {}), 'bob');
  t.match(store.current('demo'), { challenger: 'c', percent: 15, version: 3 });
  const { entries } = await store.history('demo');
  t.match(entries[0], { action: 'config', actor: 'bob', from: { challenger: 'b', version: 2 }, to: { challenger: 'c', version: 3 } });
});

t.test('Redis store: a replica started with a new challenger starts a new rollout for everyone', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const opts = { url: redis.url, keyPrefix: 'prec:', staleAfterSeconds: 30, resyncIntervalMs: 100, logger: silent };
  const v1 = parseConfig(config({ percent: 10 }), 'test.yaml', {});
  const first = new RedisRolloutStore(v1, opts);
  await first.start();
  t.teardown(() => first.close());
  await first.apply('demo', { action: 'set', percent: 40, actor: 'alice', reason: 'ramp' });

  const restarted = new RedisRolloutStore(parseConfig(config({ percent: 10 }), 'test.yaml', {}), opts);
  await restarted.start();
  t.match(restarted.current('demo'), { percent: 40, version: 2 }, 'a restart with the same file keeps the runtime change');
  await restarted.close();

  const v2 = parseConfig(config({ percent: 5, challenger: 'c' }), 'test.yaml', {});
  const deployed = new RedisRolloutStore(v2, opts);
  await deployed.start();
  t.teardown(() => deployed.close());
  t.match(deployed.current('demo'), { challenger: 'c', percent: 5, version: 3 });
  const { entries } = await deployed.history('demo');
  t.same(entries.map((e) => e.action), ['config', 'set', 'config']);
  await waitFor(() => (first.current('demo')?.version === 3 ? true : undefined));
  t.match(first.current('demo'), { challenger: 'c', version: 3 }, 'the replica already running follows');

  await first.reconfigure(parseConfig(config({ percent: 5, challenger: 'b' }), 'test.yaml', {}), 'bob', 'back to candidate b');
  t.match((await first.history('demo')).entries[0], { action: 'config', actor: 'bob', reason: 'back to candidate b', to: { challenger: 'b', version: 4 } }, 'a reload\'s reason is audited');
});

t.test('Redis store: a reconfigure that overlaps a sync in flight is not lost', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const opts = { url: redis.url, keyPrefix: 'overlap:', staleAfterSeconds: 30, resyncIntervalMs: 60_000, logger: silent };
  const store = new RedisRolloutStore(parseConfig(config({ percent: 10 }), 'test.yaml', {}), opts);
  await store.start();
  t.teardown(() => store.close());
  // The first reload's sync is still reconciling when the second file arrives (a resync tick or a
  // reconnect runs the same way); when both settle the newest file must be the one in effect.
  const first = store.reconfigure(parseConfig(config({ percent: 10, challenger: 'c' }), 'test.yaml', {}), 'alice');
  const second = store.reconfigure(parseConfig(config({ percent: 30, challenger: 'b' }), 'test.yaml', {}), 'bob', 'b after all');
  await Promise.all([first, second]);
  t.match(store.current('demo'), { challenger: 'b', percent: 30 }, 'the newest file was reconciled');
  t.match((await store.history('demo')).entries[0], { actor: 'bob', reason: 'b after all', to: { challenger: 'b', percent: 30 } });
});

t.test('a replica whose file lacks the new challenger serves its champion only', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const opts = { url: redis.url, keyPrefix: 'roll:', staleAfterSeconds: 30, resyncIntervalMs: 100, logger: silent };
  const oldFile = parseConfig(config().replace(/\n  c: .*\n/, '\n'), 'test.yaml', {});
  t.notOk(oldFile.models.c, 'old file has no model c');
  const old = new RedisRolloutStore(oldFile, opts);
  await old.start();
  t.teardown(() => old.close());
  const fresh = new RedisRolloutStore(parseConfig(config({ challenger: 'c', percent: 50 }), 'test.yaml', {}), opts);
  await fresh.start();
  t.teardown(() => fresh.close());
  await waitFor(() => (old.current('demo')?.version === 2 ? true : undefined));
  t.match(old.current('demo'), { champion: 'a', challenger: undefined, version: 2 }, 'no challenger it cannot call');
});

t.test('Redis losing its data: a replica with the old file restores the rollout it could not serve, not its champion-only view', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const opts = { url: redis.url, keyPrefix: 'reseed:', staleAfterSeconds: 30, resyncIntervalMs: 100, logger: silent };
  const newFile = () => parseConfig(config({ challenger: 'c', percent: 50 }), 'test.yaml', {});
  const old = new RedisRolloutStore(parseConfig(config().replace(/\n  c: .*\n/, '\n'), 'test.yaml', {}), opts);
  await old.start();
  t.teardown(() => old.close());
  const fresh = new RedisRolloutStore(newFile(), opts);
  await fresh.start();
  await waitFor(() => (old.current('demo')?.version === 2 ? true : undefined));
  t.match(old.current('demo'), { challenger: undefined }, 'the old replica serves its champion only');
  // The new replica is away (restarting) when Redis comes back empty: the old one reseeds first.
  await fresh.close();

  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  await raw.flushall();
  const reseeded = await waitFor(async () => (await raw.get('reseed:rollout:state:demo')) ?? undefined);
  t.match(JSON.parse(reseeded), { champion: 'a', challenger: 'c', percent: 50, version: 2 }, 'Redis gets the rollout back, challenger included');
  t.match(old.current('demo'), { challenger: undefined }, 'the old replica still serves only what it knows');

  const back = new RedisRolloutStore(newFile(), opts);
  await back.start();
  t.teardown(() => back.close());
  t.match(back.current('demo'), { champion: 'a', challenger: 'c', percent: 50, state: 'active' }, 'a new replica carries on with the rollout');
});

t.test('config reload: valid file applied, invalid file rejected and the old config keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-reload-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, config({ percent: 10 }));
  const gw = await startGateway({ config: loadConfigFile(file, {}), port: 0, host: '127.0.0.1', logger: silent, env: {} });
  t.teardown(() => gw.close());

  writeFileSync(file, config({ percent: 10, challenger: 'c' }));
  const ok = await admin<{ status: string; routes: string[]; restartRequired: string[] }>(gw.url, 'POST', '/config/reload', { reason: 'new candidate c' });
  t.equal(ok.status, 200);
  t.match(ok.json, { status: 'reloaded', routes: ['demo'], restartRequired: [] });
  t.match((await admin(gw.url, 'GET', '/routes/demo')).json, { challenger: 'c', version: 2 });
  const history = await admin<{ entries: { action: string; actor: string }[] }>(gw.url, 'GET', '/routes/demo/history');
  t.match(history.json.entries[0], { action: 'config', actor: 'alice', reason: 'new candidate c' }, 'the reason given for the reload is audited');

  writeFileSync(file, config({ percent: 10, challenger: 'nope' }));
  const bad = await admin<{ error: { code: string; message: string } }>(gw.url, 'POST', '/config/reload');
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'invalid_config');
  t.match(bad.json.error.message, /nope/);
  t.match((await admin(gw.url, 'GET', '/routes/demo')).json, { challenger: 'c', version: 2 }, 'old config still in effect');
  const served = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) });
  t.equal(served.status, 200, 'still serving');

  writeFileSync(file, config({ percent: 10, challenger: 'c' }).replace('alice-admin-token-0001', 'alice-rotated-token-01'));
  const rotated = await gw.reload('sighup');
  t.ok(rotated, 'SIGHUP path reloads too');
  t.equal((await admin(gw.url, 'GET', '/routes')).status, 401, 'the old admin token no longer works');
  t.equal((await admin(gw.url, 'GET', '/routes', undefined, 'alice-rotated-token-01')).status, 200, 'the new one does');
});
