import t from 'tap';
import { pino } from 'pino';
import type { DatasetRecord } from '../../src/sampling/dataset-record.js';
import type { AppendResult, DatasetStore } from '../../src/sampling/dataset-store.js';
import { RedisDatasetStore } from '../../src/sampling/redis-store.js';
import { WriteQueue, type SampleResult } from '../../src/sampling/write-queue.js';
import { startRedis } from '../helpers/redis.js';
import { collect, makeRecord } from './fixtures/records.js';
import { waitFor } from '../helpers/wait.js';

/** A store whose availability the test controls; it remembers hashes like the real ones. */
class ControlledStore implements DatasetStore {
  written: DatasetRecord[] = [];
  batches: number[] = [];
  down = false;
  appendCalls = 0;
  /** While set, append waits for this promise (a slow store). */
  gate: Promise<void> | undefined;
  #hashes = new Set<string>();

  async append(records: readonly DatasetRecord[]): Promise<AppendResult> {
    this.appendCalls++;
    if (this.gate) await this.gate;
    if (this.down) throw new Error('connection refused');
    this.batches.push(records.length);
    const result: AppendResult = { stored: 0, duplicates: 0, outcomes: [] };
    for (const r of records) {
      if (this.#hashes.has(r.input_hash)) {
        result.duplicates++;
        result.outcomes.push('duplicate');
      } else {
        this.#hashes.add(r.input_hash);
        this.written.push(r);
        result.stored++;
        result.outcomes.push('stored');
      }
    }
    return result;
  }
  async list(): Promise<never[]> {
    return [];
  }
  async *export(): AsyncGenerator<DatasetRecord> {}
  async close(): Promise<void> {}
}

interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

function recordingLogger(): { lines: LogLine[]; info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
  };
}

function resultCounter(): { counts: Record<string, number>; onResult: (route: string, variant: string, r: SampleResult) => void } {
  const counts: Record<string, number> = {};
  return {
    counts,
    onResult: (route, variant, r) => {
      const key = `${route}/${variant}/${r}`;
      counts[key] = (counts[key] ?? 0) + 1;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('offer is synchronous; a full batch goes out at once, without waiting for the interval', async (t) => {
  const store = new ControlledStore();
  const { counts, onResult } = resultCounter();
  // An interval far longer than the wait below: a written batch can only have been the full one.
  const queue = new WriteQueue({ store, capacity: 100, batchSize: 5, flushIntervalMs: 60_000, onResult });
  t.teardown(() => queue.close());

  for (let i = 0; i < 5; i++) t.equal(queue.offer(makeRecord({ variant: 'challenger' })), true);
  t.equal(store.appendCalls, 0, 'nothing is written inside offer()');
  await waitFor(() => store.batches.length > 0 || undefined, 5_000);
  t.same(store.batches, [5], 'a full batch is written without waiting for the interval');

  queue.offer(makeRecord());
  await sleep(20);
  t.same(store.batches, [5], 'a partial batch waits');
  t.same(counts, { 'support-chat/challenger/stored': 5 });
  t.match(queue.stats(), { pending: 1, stored: 5, dropped: 0, storeDown: false });
});

t.test('a partial batch is written once the interval has passed', async (t) => {
  const store = new ControlledStore();
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({ store, capacity: 100, batchSize: 5, flushIntervalMs: 50, onResult });
  t.teardown(() => queue.close());

  const offeredAt = performance.now();
  queue.offer(makeRecord());
  await waitFor(() => store.batches.length > 0 || undefined, 5_000, 1);
  // Only a lower bound: a loaded machine may write it late, never early.
  t.ok(performance.now() - offeredAt >= 45, 'not before the interval');
  t.same(store.batches, [1]);
  t.same(counts, { 'support-chat/champion/stored': 1 });
  t.match(queue.stats(), { pending: 0, stored: 1, dropped: 0, storeDown: false });
});

t.test('a full queue drops new offers, reports them, and warns once', async (t) => {
  const store = new ControlledStore();
  let open!: () => void;
  store.gate = new Promise((r) => (open = r));
  const logger = recordingLogger();
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({ store, capacity: 3, batchSize: 2, flushIntervalMs: 10, onResult, logger });
  t.teardown(() => queue.close());

  const accepted = Array.from({ length: 6 }, () => queue.offer(makeRecord()));
  t.same(accepted, [true, true, true, false, false, false], 'the batch being written counts against capacity');
  t.equal(logger.lines.filter((l) => l.msg.includes('full')).length, 1);
  open();
  store.gate = undefined;
  t.equal(await queue.flush(1000), true);
  t.same(counts, { 'support-chat/champion/dropped': 3, 'support-chat/champion/stored': 3 });
  t.equal(store.written.length, 3);
});

t.test('a store outage keeps accepted records, retries with backoff and logs once', async (t) => {
  const store = new ControlledStore();
  store.down = true;
  const logger = recordingLogger();
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({
    store,
    capacity: 10,
    batchSize: 4,
    flushIntervalMs: 5,
    onResult,
    logger,
    retryInitialDelayMs: 5,
    retryMaxDelayMs: 20,
  });
  t.teardown(() => queue.close());

  const records = Array.from({ length: 12 }, () => makeRecord());
  t.ok(records.slice(0, 10).every((r) => queue.offer(r)));
  await waitFor(() => store.appendCalls >= 4 || undefined, 5_000);
  t.ok(store.appendCalls >= 4, `retried (${store.appendCalls} attempts)`);
  t.same(records.slice(10).map((r) => queue.offer(r)), [false, false], 'capacity still holds during the outage');
  t.match(queue.stats(), { pending: 10, storeDown: true, dropped: 2 });
  t.equal(logger.lines.filter((l) => l.level === 'error').length, 1, 'one error for the whole outage');

  store.down = false;
  t.equal(await queue.flush(1000), true);
  t.same(store.written.map((r) => r.id), records.slice(0, 10).map((r) => r.id), 'accepted records survive, in order');
  t.same(counts, { 'support-chat/champion/dropped': 2, 'support-chat/champion/stored': 10 });
  const recovered = logger.lines.filter((l) => l.level === 'info');
  t.equal(recovered.length, 1);
  t.match(recovered[0]?.obj, { droppedWhileDown: 2 });
  t.equal(queue.stats().storeDown, false);
});

t.test('duplicates are reported as such', async (t) => {
  const store = new ControlledStore();
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({ store, batchSize: 10, flushIntervalMs: 5, onResult });
  t.teardown(() => queue.close());
  const r = makeRecord();
  queue.offer(r);
  queue.offer({ ...r, id: 'again' });
  await queue.flush(1000);
  t.same(counts, { 'support-chat/champion/stored': 1, 'support-chat/champion/duplicate': 1 });
});

t.test('a hanging append times out and is retried', async (t) => {
  const store = new ControlledStore();
  store.gate = new Promise(() => {}); // never answers
  const logger = recordingLogger();
  const queue = new WriteQueue({ store, batchSize: 1, appendTimeoutMs: 20, retryInitialDelayMs: 5, logger });
  t.teardown(() => queue.close());
  queue.offer(makeRecord());
  await waitFor(() => store.appendCalls >= 2 || undefined, 5_000);
  t.ok(store.appendCalls >= 2);
  t.match(logger.lines[0], { level: 'error', obj: { err: /timed out/ } });
  store.gate = undefined;
  t.equal(await queue.flush(1000), true);
});

t.test('flush times out during an outage; close reports what is left as dropped', async (t) => {
  const store = new ControlledStore();
  store.down = true;
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({ store, batchSize: 2, onResult, retryInitialDelayMs: 10_000 });
  queue.offer(makeRecord());
  queue.offer(makeRecord());
  queue.offer(makeRecord());
  const started = Date.now();
  t.equal(await queue.flush(50), false);
  // Waiting out the backoff would take 10 s; honouring the 50 ms timeout takes about that. The bound
  // sits between them, far from both.
  t.ok(Date.now() - started < 5000, 'flush honours its timeout even with a long backoff');
  await queue.close();
  t.same(counts, { 'support-chat/champion/dropped': 3 });
  t.equal(queue.offer(makeRecord()), false, 'closed queues accept nothing');
  t.equal(await queue.flush(10), true, 'nothing pending after close');
});

t.test('invalid dataset names and throwing callbacks do not disturb the queue', async (t) => {
  const store = new ControlledStore();
  const logger = recordingLogger();
  const seen: SampleResult[] = [];
  const queue = new WriteQueue({
    store,
    batchSize: 1,
    logger,
    onResult: (_route, _variant, r) => {
      seen.push(r);
      throw new Error('metrics exploded');
    },
  });
  t.teardown(() => queue.close());
  t.equal(queue.offer(makeRecord({ route: '../etc' })), false);
  t.equal(queue.offer(makeRecord({ route: '../etc' })), false);
  t.equal(logger.lines.filter((l) => l.msg.includes('not a valid dataset name')).length, 1, 'warned once per route');
  t.equal(queue.offer(makeRecord()), true);
  await queue.flush(1000);
  t.same(seen, ['dropped', 'dropped', 'stored']);
  t.equal(store.written.length, 1);
  t.throws(() => new WriteQueue({ store, capacity: 0 }), RangeError);
});

t.test('accepts a pino logger', async (t) => {
  const queue = new WriteQueue({ store: new ControlledStore(), logger: pino({ level: 'silent' }) });
  t.equal(queue.offer(makeRecord()), true);
  t.equal(await queue.flush(1000), true);
  await queue.close();
});

t.test('end to end: Redis killed while sampling, restarted on the same port, nothing accepted is lost', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const store = new RedisDatasetStore({ redis: redis.url, keyPrefix: 'e2e:' });
  t.teardown(() => store.close());
  const logger = recordingLogger();
  const { counts, onResult } = resultCounter();
  const queue = new WriteQueue({
    store,
    capacity: 1000,
    batchSize: 10,
    flushIntervalMs: 10,
    onResult,
    logger,
    retryInitialDelayMs: 20,
    retryMaxDelayMs: 100,
  });
  t.teardown(() => queue.close());

  const before = Array.from({ length: 15 }, () => makeRecord());
  before.forEach((r) => queue.offer(r));
  t.equal(await queue.flush(5000), true);

  await redis.kill();
  const during = Array.from({ length: 25 }, () => makeRecord());
  during.forEach((r) => queue.offer(r));
  await waitFor(() => queue.stats().storeDown || undefined, 10_000);
  t.equal(queue.stats().storeDown, true);

  await redis.restart();
  t.equal(await queue.flush(10_000), true);
  t.same(
    (await collect(store.export('support-chat'))).map((r) => r.id),
    during.map((r) => r.id),
    'everything offered during the outage is written after it (the restarted Redis has no persistence)',
  );
  t.same(counts, { 'support-chat/champion/stored': 40 });
  t.equal(logger.lines.filter((l) => l.level === 'error').length, 1);
  t.equal(logger.lines.filter((l) => l.level === 'info').length, 1);
});
