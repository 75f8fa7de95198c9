import t from 'tap';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonlDatasetStore } from '../../src/sampling/jsonl-store.js';
import { InvalidDatasetNameError } from '../../src/sampling/dataset-store.js';
import { collect, makeRecord } from './fixtures/records.js';

t.test('append then export, per dataset, oldest first', async (t) => {
  const dir = t.testdir();
  const store = new JsonlDatasetStore({ dir });
  t.teardown(() => store.close());
  const a = [makeRecord({ route: 'chat' }), makeRecord({ route: 'chat' })];
  const b = makeRecord({ route: 'summarise' });
  const result = await store.append([a[0]!, b, a[1]!]);
  t.same(result, { stored: 3, duplicates: 0, outcomes: ['stored', 'stored', 'stored'] });

  t.same(await collect(store.export('chat')), a);
  t.same(await collect(store.export('summarise')), [b]);
  t.same(await collect(store.export('unknown')), [], 'an unknown dataset is empty');
  t.same(await readdir(join(dir, 'chat')), ['chat-000001.jsonl']);

  const list = await store.list();
  t.same(list.map((d) => [d.name, d.records]), [['chat', 2], ['summarise', 1]]);
  t.ok(list.every((d) => (d.bytes ?? 0) > 0 && typeof d.updatedAt === 'string'));
});

t.test('duplicates by input hash are not written, within a batch, across batches and restarts', async (t) => {
  const dir = t.testdir();
  const first = new JsonlDatasetStore({ dir });
  const original = makeRecord({ route: 'chat', prompt: 'same question' });
  const again = { ...makeRecord({ route: 'chat', prompt: 'same question' }), id: 'other-id' };
  const otherRoute = makeRecord({ route: 'other', prompt: 'same question' });
  t.same(await first.append([original, again, otherRoute]), {
    stored: 2,
    duplicates: 1,
    outcomes: ['stored', 'duplicate', 'stored'],
  });
  t.same((await first.append([again])).outcomes, ['duplicate']);
  await first.close();

  const second = new JsonlDatasetStore({ dir });
  t.teardown(() => second.close());
  t.same((await second.append([again])).outcomes, ['duplicate'], 'hashes are re-read from the newest file');
  t.equal((await collect(second.export('chat'))).length, 1);
});

t.test('the dedup window is bounded', async (t) => {
  const store = new JsonlDatasetStore({ dir: t.testdir(), dedupCapacity: 2 });
  t.teardown(() => store.close());
  const [r1, r2, r3] = [makeRecord(), makeRecord(), makeRecord()];
  await store.append([r1!, r2!, r3!]);
  t.same((await store.append([r1!, r3!])).outcomes, ['stored', 'duplicate'], 'the oldest hash was forgotten');
});

t.test('files rotate by size and export streams across them in order', async (t) => {
  const dir = t.testdir();
  const lineBytes = JSON.stringify(makeRecord()).length + 1;
  const store = new JsonlDatasetStore({ dir, maxFileBytes: lineBytes * 3 + 10 });
  t.teardown(() => store.close());
  const records = Array.from({ length: 10 }, () => makeRecord());
  await store.append(records.slice(0, 4));
  for (const r of records.slice(4)) await store.append([r]);

  const files = (await readdir(join(dir, 'support-chat'))).sort();
  t.same(files, ['support-chat-000001.jsonl', 'support-chat-000002.jsonl', 'support-chat-000003.jsonl', 'support-chat-000004.jsonl']);
  for (const f of files) {
    const text = await readFile(join(dir, 'support-chat', f), 'utf8');
    t.ok(Buffer.byteLength(text) <= lineBytes * 3 + 10, `${f} within the size limit`);
  }
  t.same((await collect(store.export('support-chat'))).map((r) => r.id), records.map((r) => r.id));
  t.same((await store.list())[0]?.records, 10);

  const reopened = new JsonlDatasetStore({ dir, maxFileBytes: lineBytes * 3 + 10 });
  t.teardown(() => reopened.close());
  await reopened.append([makeRecord()]);
  t.equal((await readdir(join(dir, 'support-chat'))).length, 4, 'a restarted store continues the newest file');
});

t.test('rotation counts UTF-8 bytes, and a line larger than the write buffer is written whole', async (t) => {
  const dir = t.testdir();
  const max = 8000;
  const store = new JsonlDatasetStore({ dir, maxFileBytes: max });
  t.teardown(() => store.close());
  // Three bytes per character in most of each line, so counting characters would overfill files.
  const records = Array.from({ length: 12 }, (_, i) => makeRecord({ prompt: `${'请'.repeat(600 + 97 * i)} ${i}` }));
  // ~1.2 MB as UTF-8: more than the buffer lines are encoded into.
  const huge = makeRecord({ prompt: '📧'.repeat(300_000) });
  const all = [...records.slice(0, 5), huge, ...records.slice(5)];
  t.equal((await store.append(all)).stored, all.length);

  const files = (await readdir(join(dir, 'support-chat'))).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(dir, 'support-chat', f), 'utf8')));
  const lines = texts.map((text) => text.split('\n').filter(Boolean));
  texts.forEach((text, i) => {
    if (lines[i]?.some((l) => l.includes('📧'))) t.equal(lines[i]?.length, 1, `${files[i]} holds the huge line alone`);
    else t.ok(Buffer.byteLength(text) <= max, `${files[i]} within the size limit`);
    const next = lines[i + 1]?.[0];
    if (next !== undefined) t.ok(Buffer.byteLength(text) + Buffer.byteLength(next) + 1 > max, `${files[i]} was full: the next line did not fit`);
  });
  t.ok(files.length >= 6, 'several files');
  const exported = await collect(store.export('support-chat'));
  t.same(exported.map((r) => r.id), all.map((r) => r.id), 'every line whole, in order');
  t.equal(exported[5]?.request.messages[0]?.content, huge.request.messages[0]?.content);
});

t.test('a truncated last line is skipped and counted, and the next append starts a fresh line', async (t) => {
  const dir = t.testdir();
  const warnings: object[] = [];
  const logger = { info() {}, error() {}, warn: (obj: object) => void warnings.push(obj) };
  const good = makeRecord({ route: 'chat' });
  const file = join(dir, 'chat', 'chat-000001.jsonl');
  await new JsonlDatasetStore({ dir }).append([good]);
  await appendFile(file, JSON.stringify(makeRecord({ route: 'chat' })).slice(0, 50)); // crash mid-write

  const store = new JsonlDatasetStore({ dir, logger });
  t.teardown(() => store.close());
  t.same(await collect(store.export('chat')), [good]);
  t.equal(store.skippedLines, 1);
  t.match(warnings, [{ file, skipped: 1 }]);
  t.equal((await store.list())[0]?.records, 1, 'list counts what export returns');

  const after = makeRecord({ route: 'chat' });
  await store.append([after]);
  t.same(await collect(store.export('chat')), [good, after], 'the new record is not glued to the torn line');
  t.equal(store.skippedLines, 2);
  t.equal((await store.list())[0]?.records, 2, 'the torn line, now ended by the next append, is still not a record');
  await store.append([makeRecord({ route: 'chat' })]);
  t.equal((await store.list())[0]?.records, 3, 'a file that grew is counted from where the last count stopped');
  t.equal((await new JsonlDatasetStore({ dir }).list())[0]?.records, 3, 'and the same when counted from scratch');
});

t.test('export filters: variant, outcome, tags, time window, limit', async (t) => {
  const store = new JsonlDatasetStore({ dir: t.testdir() });
  t.teardown(() => store.close());
  const at = (s: string): string => new Date(`2025-03-0${s}T12:00:00Z`).toISOString();
  const records = [
    makeRecord({ variant: 'champion', tags: ['billing', 'vip'], sampledAt: at('1') }),
    makeRecord({ variant: 'challenger', tags: ['billing'], sampledAt: at('2') }),
    makeRecord({ variant: 'challenger', outcome: 'error', sampledAt: at('3') }),
    makeRecord({ variant: 'champion', tags: ['vip'], sampledAt: at('4') }),
  ];
  await store.append(records);
  const ids = async (filter: Parameters<typeof store.export>[1]): Promise<string[]> =>
    (await collect(store.export('support-chat', filter))).map((r) => r.id);
  const id = (i: number): string => records[i]!.id;

  t.same(await ids({ variant: 'challenger' }), [id(1), id(2)]);
  t.same(await ids({ outcome: 'error' }), [id(2)]);
  t.same(await ids({ tags: ['billing', 'vip'] }), [id(0)]);
  t.same(await ids({ since: new Date(at('2')), until: new Date(at('3')) }), [id(1), id(2)], 'bounds inclusive');
  t.same(await ids({ limit: 2 }), [id(0), id(1)]);
  t.same(await ids({ limit: 0 }), []);
  t.same(await ids({ route: 'elsewhere' }), []);
});

t.test('dataset names are checked before anything touches the disk', async (t) => {
  const dir = t.testdir();
  const store = new JsonlDatasetStore({ dir });
  t.teardown(() => store.close());
  await t.rejects(store.append([makeRecord(), makeRecord({ route: '../escape' })]), InvalidDatasetNameError);
  t.same(await readdir(dir), [], 'nothing written for the valid record either');
  t.throws(() => store.export('../../etc'), InvalidDatasetNameError);
  t.throws(() => store.export('.hidden'), InvalidDatasetNameError);
});

t.test('concurrent appends are serialised and all land', async (t) => {
  const store = new JsonlDatasetStore({ dir: t.testdir(), maxFileBytes: 2000 });
  t.teardown(() => store.close());
  const records = Array.from({ length: 50 }, () => makeRecord());
  await Promise.all(records.map((r) => store.append([r])));
  t.same((await collect(store.export('support-chat'))).map((r) => r.id), records.map((r) => r.id));
});

t.test('stray files and a closed store', async (t) => {
  const dir = t.testdir({ chat: { 'notes.txt': 'x', 'chat-abc.jsonl': '' }, 'not a dataset': {} });
  const store = new JsonlDatasetStore({ dir });
  t.same(await store.list(), [], 'only <name>-<seq>.jsonl files count');
  await writeFile(join(dir, 'chat', 'chat-000001.jsonl'), '');
  t.same((await store.list()).map((d) => d.records), [0]);
  await store.close();
  await t.rejects(store.append([makeRecord()]), /closed/);
});
