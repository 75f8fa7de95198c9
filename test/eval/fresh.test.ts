import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshCases } from '../../src/eval/fresh.js';
import { RedisDatasetStore } from '../../src/sampling/redis-store.js';
import type { DatasetRecord } from '../../src/sampling/dataset-record.js';
import { startRedis } from '../helpers/redis.js';

function record(i: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: `s${i}`, schema_version: 1, route: 'demo',
    source: { type: 'production', request_id: `r${i}`, variant: 'champion', model: 'sim-large', sampled_at: `2026-01-0${i}T00:00:00Z`, sampling_rate: 0.1 },
    request: { messages: [{ role: 'user', content: `sample ${i} from ACME` }], params: { temperature: 0 } },
    response: { content: '{}', finish_reason: 'stop' }, usage: null, latency_s: 0.1, ttft_s: null, cost_usd: 0.001,
    outcome: 'success', tags: ['prod'], redactions: 0, input_hash: 'a'.repeat(64), ...extra,
  });
}

t.test('--fresh N takes the N most recent samples, as full-split cases tagged fresh', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-fresh-'));
  mkdirSync(join(dir, 'demo'));
  writeFileSync(join(dir, 'demo', 'demo-000001.jsonl'), `${[1, 2, 3, 4].map((i) => record(i)).join('\n')}\n${record(5, { split: 'holdout' })}\n${record(6)}\n`);
  const { cases, problems } = await freshCases(dir, 'demo', 3, new Set(['s6']));
  t.same(problems, []);
  // last three are s4, s5 (holdout: left out) and s6 (already a suite case): only s4 remains
  t.same(cases.map((c) => c.id), ['s4']);
  t.equal(cases[0]?.split, 'full');
  t.same(cases[0]?.tags, ['prod', 'fresh']);
  t.equal(cases[0]?.origin, 'production');
  t.same(cases[0]?.request.messages, [{ role: 'user', content: 'sample 4 from ACME' }], 'recorded messages replayed as-is');
  const none = await freshCases(dir, 'nothing-here', 5, new Set());
  t.same(none.cases, [], 'an unknown dataset adds nothing');
});

t.test('--fresh reads the Redis dataset store when given the gateway\'s redis:// URL', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const store = new RedisDatasetStore({ redis: redis.url, keyPrefix: 'bellwether:datasets:' });
  const records = [1, 2, 3].map((i) => ({ ...(JSON.parse(record(i)) as DatasetRecord), input_hash: String(i).repeat(64) }));
  await store.append(records);
  await store.close();
  const { cases, problems } = await freshCases(redis.url, 'demo', 2, new Set());
  t.same(problems, []);
  t.same(cases.map((c) => c.id), ['s2', 's3'], 'the two most recent samples');
});
