/**
 * Datasets as JSONL files: `dir/<name>/<name>-<seq>.jsonl`, a new file once the current one
 * would exceed `maxFileBytes`. For a single replica (no Redis): one process owns the directory.
 * Appends block the calling thread for the length of a local write (see `#write`): the gateway
 * appends only from its sampling worker thread; its own instance, on the request thread, reads.
 *
 * Crash safety: a line is written whole or not at all as far as readers care — export skips a
 * line that does not parse (a crash mid-write leaves a truncated last line), and the next
 * append starts on a fresh line so the damage never spreads to a good record.
 */
import { appendFileSync, createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseDatasetLine, type DatasetRecord } from './dataset-record.js';
import { RecentHashes } from './recent-hashes.js';
import {
  assertDatasetName,
  emptyAppendResult,
  filterRecords,
  isValidDatasetName,
  recordOutcome,
  silentLogger,
  type AppendResult,
  type DatasetFilter,
  type DatasetInfo,
  type DatasetStore,
  type SamplingLogger,
} from './dataset-store.js';

export interface JsonlDatasetStoreOptions {
  dir: string;
  /** Rotate to a new file before this size is exceeded (a single larger line still fits alone). Default 64 MiB. */
  maxFileBytes?: number;
  /** Recent input hashes remembered per dataset for de-duplication. Default 10,000. */
  dedupCapacity?: number;
  logger?: SamplingLogger;
}

interface FileRef {
  seq: number;
  path: string;
}

/** Where the next line goes. Dropped after a failed write so it is re-read from disk. */
interface WriteCursor {
  seq: number;
  size: number;
  /** The file does not end in a newline (torn write): start the next line on a fresh one. */
  torn: boolean;
}

const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
const DEFAULT_DEDUP_CAPACITY = 10_000;
const NEWLINE = 0x0a;
/** Room for ~250 lines of a typical chat record (~1 KB each) at their worst-case UTF-8 size. */
const WRITE_BUFFER_BYTES = 256 * 1024;

function newWriteBuffer(bytes: number): Buffer {
  // Not from Buffer's shared pool: kept for the store's life, and never anything else's.
  const buffer = Buffer.allocUnsafeSlow(bytes);
  buffer[0] = NEWLINE;
  return buffer;
}

export class JsonlDatasetStore implements DatasetStore {
  readonly #dir: string;
  readonly #maxFileBytes: number;
  readonly #dedupCapacity: number;
  readonly #logger: SamplingLogger;
  readonly #cursors = new Map<string, WriteCursor>();
  /** Recent input hashes per dataset, oldest forgotten first. */
  readonly #hashes = new Map<string, RecentHashes>();
  readonly #lineCounts = new Map<string, { size: number; mtimeMs: number; lines: number; countedTo: number }>();
  /** Appends are serialised: cursors and rotation assume one writer. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Where `#write` encodes lines; allocated on the first append (a store that only reads never needs it). */
  #out: Buffer | undefined;
  /** Lines export skipped because they were truncated or not records. */
  skippedLines = 0;

  constructor(opts: JsonlDatasetStoreOptions) {
    this.#dir = opts.dir;
    this.#maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#dedupCapacity = opts.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY;
    this.#logger = opts.logger ?? silentLogger;
  }

  append(records: readonly DatasetRecord[]): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new Error('dataset store is closed'));
    try {
      for (const r of records) assertDatasetName(r.route);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const run = this.#queue.then(() => this.#append(records));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(records: readonly DatasetRecord[]): Promise<AppendResult> {
    const result = emptyAppendResult();
    const byName = new Map<string, number[]>();
    records.forEach((r, i) => {
      const indexes = byName.get(r.route) ?? [];
      indexes.push(i);
      byName.set(r.route, indexes);
    });
    for (const [name, indexes] of byName) {
      const hashes = await this.#recentHashes(name);
      const fresh: number[] = [];
      const batchHashes = new Set<string>();
      for (const i of indexes) {
        const hash = (records[i] as DatasetRecord).input_hash;
        if (hashes.has(hash) || batchHashes.has(hash)) {
          recordOutcome(result, i, 'duplicate');
        } else {
          batchHashes.add(hash);
          fresh.push(i);
        }
      }
      try {
        await this.#write(name, fresh, records, hashes, result);
      } catch (err) {
        this.#cursors.delete(name);
        throw err;
      }
    }
    return result;
  }

  /** Writes lines, rotating by size; a hash is remembered only once its line is on disk. */
  async #write(
    name: string,
    indexes: readonly number[],
    records: readonly DatasetRecord[],
    hashes: RecentHashes,
    result: AppendResult,
  ): Promise<void> {
    if (indexes.length === 0) return;
    const cursor = await this.#cursor(name);
    // Lines are encoded straight into a buffer kept for the store's life, not joined into a string that
    // write then converts: that conversion's buffer (a chunk's size, ~100 KB) can come fresh from the
    // allocator for every write, and in a loop the page faults of touching it cost ~5 µs per record in
    // this VM (0.27 faults per 1 KB line; in the gateway's worker it was mostly reused memory, so less).
    // Byte 0 is kept for the newline a torn file needs.
    let out = (this.#out ??= newWriteBuffer(WRITE_BUFFER_BYTES));
    let used = 1;
    let lines: number[] = [];
    /** Writes the lines before `end` to the current file. */
    const flush = (end: number): void => {
      if (lines.length === 0) return;
      const from = cursor.torn ? 0 : 1;
      // Synchronous on purpose: the gateway writes from its sampling worker, a thread of its own
      // that nothing waits on, and there an async append (open, write, close, each a hand-over to
      // libuv's pool and back) cost ~6x the CPU of the write itself — ~3.5 µs per record in
      // batches of 100, a tenth of all the work a sample takes. Still opened per append, so a
      // rotated-away or deleted file is recreated, not written through a stale descriptor.
      appendFileSync(this.#filePath(name, cursor.seq), out.subarray(from, end));
      cursor.size += end - from;
      cursor.torn = false;
      for (const i of lines) {
        hashes.add((records[i] as DatasetRecord).input_hash);
        recordOutcome(result, i, 'stored');
      }
      lines = [];
    };
    for (const i of indexes) {
      const line = JSON.stringify(records[i]);
      // At most three UTF-8 bytes per UTF-16 unit, and the newline.
      const room = line.length * 3 + 1;
      if (used + room > out.length) {
        flush(used);
        used = 1;
        // A line larger than the buffer gets one of its own, for this append only.
        if (1 + room > out.length) out = newWriteBuffer(1 + room);
      }
      const start = used;
      const end = start + out.write(line, start);
      out[end] = NEWLINE;
      const lineBytes = end + 1 - start;
      const before = cursor.size + (start - 1);
      if (before > 0 && before + lineBytes > this.#maxFileBytes) {
        flush(start);
        cursor.seq++;
        cursor.size = 0;
        cursor.torn = false;
        out.copyWithin(1, start, start + lineBytes);
        used = 1;
      }
      used += lineBytes;
      lines.push(i);
    }
    flush(used);
  }

  async #cursor(name: string): Promise<WriteCursor> {
    const known = this.#cursors.get(name);
    if (known !== undefined) return known;
    await mkdir(join(this.#dir, name), { recursive: true });
    const last = (await this.#files(name)).at(-1);
    const cursor: WriteCursor = { seq: last?.seq ?? 1, size: 0, torn: false };
    if (last !== undefined) {
      cursor.size = (await stat(last.path)).size;
      cursor.torn = cursor.size > 0 && (await lastByte(last.path, cursor.size)) !== NEWLINE;
    }
    this.#cursors.set(name, cursor);
    return cursor;
  }

  /** Seeded from the newest file so de-duplication survives a restart for recent cases. */
  async #recentHashes(name: string): Promise<RecentHashes> {
    const known = this.#hashes.get(name);
    if (known !== undefined) return known;
    const recent = new RecentHashes(this.#dedupCapacity);
    const last = (await this.#files(name)).at(-1);
    if (last !== undefined) {
      for await (const record of this.#readFile(last.path, false)) recent.add(record.input_hash);
    }
    this.#hashes.set(name, recent);
    return recent;
  }

  async list(): Promise<DatasetInfo[]> {
    const names = (await readdirOrEmpty(this.#dir)).filter(isValidDatasetName).sort();
    const out: DatasetInfo[] = [];
    for (const name of names) {
      const files = await this.#files(name);
      if (files.length === 0) continue;
      let records = 0;
      let bytes = 0;
      let updated = 0;
      for (const file of files) {
        const s = await stat(file.path);
        records += await this.#countLines(file.path, s.size, s.mtimeMs);
        bytes += s.size;
        updated = Math.max(updated, s.mtimeMs);
      }
      out.push({ name, records, bytes, updatedAt: new Date(updated).toISOString() });
    }
    return out;
  }

  export(name: string, filter?: DatasetFilter): AsyncIterable<DatasetRecord> {
    assertDatasetName(name);
    return filterRecords(this.#readAll(name), filter);
  }

  async *#readAll(name: string): AsyncGenerator<DatasetRecord> {
    for (const file of await this.#files(name)) yield* this.#readFile(file.path, true);
  }

  async *#readFile(path: string, report: boolean): AsyncGenerator<DatasetRecord> {
    const input = createReadStream(path);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let skipped = 0;
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const record = parseDatasetLine(line);
        if (record === undefined) skipped++;
        else yield record;
      }
    } finally {
      lines.close();
      input.destroy();
      if (report && skipped > 0) {
        this.skippedLines += skipped;
        this.#logger.warn({ file: path, skipped }, 'dataset export skipped lines that are not valid records');
      }
    }
  }

  async #files(name: string): Promise<FileRef[]> {
    const dir = join(this.#dir, name);
    const prefix = `${name}-`;
    const files: FileRef[] = [];
    for (const entry of await readdirOrEmpty(dir)) {
      if (!entry.startsWith(prefix) || !entry.endsWith('.jsonl')) continue;
      const seq = Number(entry.slice(prefix.length, -'.jsonl'.length));
      if (Number.isSafeInteger(seq) && seq > 0) files.push({ seq, path: join(dir, entry) });
    }
    return files.sort((a, b) => a.seq - b.seq);
  }

  #filePath(name: string, seq: number): string {
    return join(this.#dir, name, `${name}-${String(seq).padStart(6, '0')}.jsonl`);
  }

  /**
   * The records export would return: complete lines that parse as records (a torn line is ended by
   * the next append's newline, so counting newlines would count it). Files only grow, so a count is
   * resumed from the end of the last complete line it read; a file that shrank is counted afresh.
   */
  async #countLines(path: string, size: number, mtimeMs: number): Promise<number> {
    let count = this.#lineCounts.get(path);
    if (count !== undefined && count.size === size && count.mtimeMs === mtimeMs) return count.lines;
    if (count === undefined || size < count.size) count = { size: 0, mtimeMs: 0, lines: 0, countedTo: 0 };
    let lines = count.lines;
    let countedTo = count.countedTo;
    if (size > countedTo) {
      let pending: Buffer[] = [];
      let offset = countedTo;
      for await (const chunk of createReadStream(path, { start: countedTo, end: size - 1 }) as AsyncIterable<Buffer>) {
        let from = 0;
        for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, from)) {
          const line = pending.length === 0 ? chunk.subarray(from, at) : Buffer.concat([...pending, chunk.subarray(from, at)]);
          pending = [];
          if (line.length > 0 && parseDatasetLine(line.toString('utf8')) !== undefined) lines++;
          countedTo = offset + at + 1;
          from = at + 1;
        }
        if (from < chunk.length) pending.push(chunk.subarray(from));
        offset += chunk.length;
      }
    }
    this.#lineCounts.set(path, { size, mtimeMs, lines, countedTo });
    return lines;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function lastByte(path: string, size: number): Promise<number | undefined> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1);
    await handle.read(buf, 0, 1, size - 1);
    return buf[0];
  } finally {
    await handle.close();
  }
}
