/**
 * `--fresh N`: the N most recent production samples of a route join a full evaluation, so the
 * nightly run tracks today's traffic instead of last quarter's. Read through the dataset store's
 * own reader (it skips torn lines and validates records).
 */
import { JsonlDatasetStore } from '../sampling/jsonl-store.js';
import { RedisDatasetStore } from '../sampling/redis-store.js';
import type { DatasetStore } from '../sampling/dataset-store.js';
import { productionCase, type EvalCase } from './suite.js';

/** `--datasets` names the gateway's store: a JSONL directory, or the Redis URL it samples into. */
export function openStore(location: string): DatasetStore {
  if (/^rediss?:\/\//.test(location)) return new RedisDatasetStore({ redis: location, keyPrefix: 'bellwether:datasets:' });
  return new JsonlDatasetStore({ dir: location });
}

export async function freshCases(dir: string, dataset: string, n: number, existing: ReadonlySet<string>): Promise<{ cases: EvalCase[]; problems: string[] }> {
  const store = openStore(dir);
  const recent: unknown[] = [];
  try {
    // Export streams oldest first; keep a sliding window of the last n.
    for await (const record of store.export(dataset)) {
      recent.push(record);
      if (recent.length > n) recent.shift();
    }
  } finally {
    await store.close();
  }
  const cases: EvalCase[] = [];
  const problems: string[] = [];
  recent.forEach((r, i) => {
    const c = productionCase(r, `${dir}/${dataset}`, `record ${i + 1}`, 'full');
    if (typeof c === 'string') problems.push(c);
    // A sample set aside as holdout stays out; one that repeats a suite case's id defers to it.
    else if (c.split !== 'holdout' && !existing.has(c.id)) cases.push({ ...c, split: 'full', tags: [...c.tags, 'fresh'] });
  });
  return { cases, problems };
}
