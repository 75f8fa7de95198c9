/**
 * Datasets as JSONL files: `dir/<name>/<name>-<seq>.jsonl`, a new file once the current one
 * would exceed `maxFileBytes`. For a single replica (no Redis): one process owns the directory.
 * Appends block the calling thread for the length of a local write (see `#write`): the gateway
 * appends only from its sampling worker thread; its own instance, on the request thread, reads.
 *
 * Crash safety: a line is written whole or not at all as far as readers care — export skips a
 * line that does not parse (a crash mid-write leaves a truncated last line), and the next
 * append starts on a fresh line so the damage never spreads to a good record.
 *
 * Retention, as the Redis store has it (`maxLen`, `maxAgeSeconds`), but in whole files: a file goes
 * once everything in it is older than `maxAgeSeconds` (its last write is), and the oldest files go
 * while the rest still hold at least `maxLen` records. The file being written is never removed, so
 * a dataset keeps at least `maxLen` records (when it has them) and at most that plus one file's
 * worth; export leaves out records older than `maxAgeSeconds` that a file not yet removed still holds.
 */
import { appendFileSync, createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
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
  /** Keep at least this many records per dataset, removing the oldest whole files beyond it. Default: no limit. */
  maxLen?: number;
  /** Remove files whose last write is older than this, and leave such records out of exports. Default 0: keep. */
  maxAgeSeconds?: number;
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
/** Retention runs right after a rotation, and otherwise at most this often per dataset. */
const RETENTION_INTERVAL_MS = 60_000;
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
  readonly #maxLen: number;
  readonly #maxAgeMs: number;
  /** Lines per file, for retention: counted as written, or once for a file an earlier process wrote. */
  readonly #fileLines = new Map<string, number>();
  /** When retention last ran per dataset; a rotation clears it so it runs on the next append. */
  readonly #retainedAt = new Map<string, number>();
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
    this.#maxLen = opts.maxLen ?? Infinity;
    this.#maxAgeMs = (opts.maxAgeSeconds ?? 0) * 1000;
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
      await this.#retain(name);
    }
    return result;
  }

  /**
   * Removes the files retention no longer keeps (see the top of this file). What it cannot do it logs
   * and leaves for its next run: the records are written, and a failed removal loses nothing.
   */
  async #retain(name: string): Promise<void> {
    if (this.#maxLen === Infinity && this.#maxAgeMs === 0) return;
    const now = Date.now();
    if (now - (this.#retainedAt.get(name) ?? -Infinity) < RETENTION_INTERVAL_MS) return;
    this.#retainedAt.set(name, now);
    try {
      const files = await this.#files(name);
      const current = this.#cursors.get(name)?.seq ?? files.at(-1)?.seq;
      const older = files.filter((f) => f.seq !== current);
      if (older.length === 0) return;
      let total = 0;
      const lines = new Map<FileRef, number>();
      if (this.#maxLen !== Infinity) {
        for (const file of files) {
          const n = await this.#linesIn(file.path);
          lines.set(file, n);
          total += n;
        }
      }
      for (const file of older) {
        const n = lines.get(file) ?? 0;
        let reason: 'age' | 'length' | undefined;
        if (this.#maxAgeMs > 0 && (await stat(file.path)).mtimeMs < now - this.#maxAgeMs) reason = 'age';
        else if (total - n >= this.#maxLen) reason = 'length';
        // Oldest first: once a file stays, the newer ones hold newer records and stay too.
        if (reason === undefined) break;
        await rm(file.path, { force: true });
        this.#fileLines.delete(file.path);
        this.#lineCounts.delete(file.path);
        total -= n;
        this.#logger.info(
          { dataset: name, file: file.path, records: this.#maxLen === Infinity ? undefined : n, reason },
          reason === 'age' ? 'dataset retention removed a file older than datasets.maxAgeSeconds' : 'dataset retention removed a file beyond datasets.maxLen',
        );
      }
    } catch (err) {
      this.#logger.warn({ dataset: name, err: String(err) }, 'dataset retention could not remove old files; it tries again later');
    }
  }

  /** Newlines in a file: one per record but for a torn line, which is close enough for retention. */
  async #linesIn(path: string): Promise<number> {
    const known = this.#fileLines.get(path);
    if (known !== undefined) return known;
    let n = 0;
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) n++;
    }
    this.#fileLines.set(path, n);
    return n;
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
      const path = this.#filePath(name, cursor.seq);
      appendFileSync(path, out.subarray(from, end));
      cursor.size += end - from;
      cursor.torn = false;
      const counted = this.#fileLines.get(path);
      if (counted !== undefined) this.#fileLines.set(path, counted + lines.length);
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
        // A new file counts from zero; the one just closed may now be removable.
        this.#fileLines.set(this.#filePath(name, cursor.seq), 0);
        this.#retainedAt.delete(name);
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
    // A dataset's first file: its lines are counted as they are written, never read back (#linesIn).
    if (last === undefined) this.#fileLines.set(this.#filePath(name, 1), 0);
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
        let n: number;
        let s: Awaited<ReturnType<typeof stat>>;
        try {
          s = await stat(file.path);
          n = await this.#countLines(file.path, s.size, s.mtimeMs);
        } catch (err) {
          // Removed by retention (the writer's own store, in the sampling worker) since the listing.
          if (isMissing(err)) continue;
          throw err;
        }
        records += n;
        bytes += s.size;
        updated = Math.max(updated, s.mtimeMs);
      }
      out.push({ name, records, bytes, updatedAt: new Date(updated).toISOString() });
    }
    return out;
  }

  export(name: string, filter: DatasetFilter = {}): AsyncIterable<DatasetRecord> {
    assertDatasetName(name);
    if (this.#maxAgeMs === 0) return filterRecords(this.#readAll(name), filter);
    // Records past maxAgeSeconds are gone once their file is; until then export leaves them out too.
    const oldest = new Date(Date.now() - this.#maxAgeMs);
    return filterRecords(this.#readAll(name), { ...filter, since: filter.since !== undefined && filter.since > oldest ? filter.since : oldest });
  }

  async *#readAll(name: string): AsyncGenerator<DatasetRecord> {
    for (const file of await this.#files(name)) yield* this.#readFile(file.path, true);
  }

  async *#readFile(path: string, report: boolean): AsyncGenerator<DatasetRecord> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      // Removed by retention since the directory was listed: its records are past keeping.
      if (isMissing(err)) return;
      throw err;
    }
    const input = handle.createReadStream();
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
    if (isMissing(err)) return [];
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
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
