import t from 'tap';
import { appendFile, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonlDatasetStore } from '../../src/sampling/jsonl-store.js';
import { openDatasetStore } from '../../src/sampling/sample-writer.js';
import { parseConfig } from '../../src/config/load.js';
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

t.test('retention by length: the oldest whole files go while the rest hold at least maxLen records', async (t) => {
  const dir = t.testdir();
  const lineBytes = JSON.stringify(makeRecord()).length + 1;
  // Three records per file.
  const maxFileBytes = lineBytes * 3 + 10;
  const store = new JsonlDatasetStore({ dir, maxFileBytes, maxLen: 5 });
  t.teardown(() => store.close());
  const records = Array.from({ length: 14 }, () => makeRecord());
  for (const r of records) await store.append([r]);
  const files = async () => (await readdir(join(dir, 'support-chat'))).sort();
  const ids = async (s: JsonlDatasetStore) => (await collect(s.export('support-chat'))).map((r) => r.id);

  // Retention runs when a file is started: at record 13 (file 5) the files held 4-6, 7-9, 10-12 and
  // 13; without 4-6 the rest still held 7, without 7-9 too only 4.
  t.same(await files(), ['support-chat-000003.jsonl', 'support-chat-000004.jsonl', 'support-chat-000005.jsonl']);
  t.same(await ids(store), records.slice(6).map((r) => r.id), 'the newest records remain, in order');
  t.same((await store.list())[0]?.records, 8);

  // A restarted store counts what an earlier process wrote: 7-9, 10-12 and 13-15 hold 9, 6 without the first.
  const reopened = new JsonlDatasetStore({ dir, maxFileBytes, maxLen: 5 });
  t.teardown(() => reopened.close());
  const next = makeRecord();
  await reopened.append([next]);
  t.same(await files(), ['support-chat-000004.jsonl', 'support-chat-000005.jsonl']);
  t.same(await ids(reopened), [...records.slice(9), next].map((r) => r.id));
});

t.test('retention by age: files last written before maxAgeSeconds go, and export leaves out older records', async (t) => {
  const dir = t.testdir();
  const lineBytes = JSON.stringify(makeRecord()).length + 1;
  const maxFileBytes = lineBytes * 2 + 10;
  const day = 24 * 3600;
  const daysAgo = (n: number) => new Date(Date.now() - n * day * 1000);
  // Written earlier by a store with no age limit: two files of records from 40 days ago, one of 20.
  const old = [makeRecord({ sampledAt: daysAgo(40).toISOString() }), makeRecord({ sampledAt: daysAgo(40).toISOString() })];
  const mid = [makeRecord({ sampledAt: daysAgo(31).toISOString() }), makeRecord({ sampledAt: daysAgo(20).toISOString() })];
  const earlier = new JsonlDatasetStore({ dir, maxFileBytes });
  for (const r of [...old, ...mid]) await earlier.append([r]);
  await earlier.close();
  const path = (seq: number) => join(dir, 'support-chat', `support-chat-00000${seq}.jsonl`);
  await utimes(path(1), daysAgo(40), daysAgo(40));
  await utimes(path(2), daysAgo(20), daysAgo(20));

  const store = new JsonlDatasetStore({ dir, maxFileBytes, maxAgeSeconds: 30 * day });
  t.teardown(() => store.close());
  const fresh = makeRecord();
  await store.append([fresh]);
  t.same((await readdir(join(dir, 'support-chat'))).sort(), ['support-chat-000002.jsonl', 'support-chat-000003.jsonl'], 'only the file last written 40 days ago went');
  t.same(
    (await collect(store.export('support-chat'))).map((r) => r.id),
    [mid[1]!.id, fresh.id],
    'the 31-day-old record in a file that stays is not exported',
  );
  const since = daysAgo(10);
  t.same((await collect(store.export('support-chat', { since }))).map((r) => r.id), [fresh.id], 'a later since still applies');
});

t.test('datasets.maxLen and datasets.maxAgeSeconds in the config apply to the JSONL store', async (t) => {
  const open = (dir: string, retention: string) =>
    openDatasetStore(
      parseConfig(
        `providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { support-chat: { champion: a } }
datasets: { dir: ${JSON.stringify(dir)}, maxFileBytes: 1024, ${retention} }
`,
        'retention.yaml',
        {},
      ),
      { info() {}, warn() {}, error() {} },
    );
  const dir = t.testdir();
  const byLength = open(join(dir, 'by-length'), 'maxLen: 1');
  t.teardown(() => byLength.close());
  const records = Array.from({ length: 6 }, () => makeRecord());
  for (const r of records) await byLength.append([r]);
  const kept = await collect(byLength.export('support-chat'));
  t.ok(kept.length >= 1 && kept.length < records.length, `maxLen trimmed whole files: ${kept.length} of ${records.length} kept`);
  t.same(kept.map((r) => r.id), records.slice(-kept.length).map((r) => r.id), 'the newest ones');

  const byAge = open(join(dir, 'by-age'), 'maxAgeSeconds: 3600');
  t.teardown(() => byAge.close());
  const stale = makeRecord({ sampledAt: new Date(Date.now() - 7200_000).toISOString() });
  const fresh = makeRecord();
  await byAge.append([stale, fresh]);
  t.same((await collect(byAge.export('support-chat'))).map((r) => r.id), [fresh.id], 'a record older than maxAgeSeconds is not exported');
});

t.test('a file removed between listing and reading (retention in the writer) is skipped, not an error', async (t) => {
  const record = makeRecord({ route: 'chat' });
  // A link to nothing is listed like a file and then cannot be opened, as a removed file.
  const dir = t.testdir({ chat: { 'chat-000001.jsonl': t.fixture('symlink', 'removed.jsonl'), 'chat-000002.jsonl': `${JSON.stringify(record)}\n` } });
  const store = new JsonlDatasetStore({ dir });
  t.teardown(() => store.close());
  t.same((await store.list()).map((d) => [d.name, d.records]), [['chat', 1]]);
  t.same(await collect(store.export('chat')), [record]);
});
