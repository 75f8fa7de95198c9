/**
 * Datasets in Redis, shared by every replica: one stream per dataset (`XADD … MAXLEN ~`, aged
 * out with `XTRIM MINID ~`), a set of dataset names, and a `SET NX EX` key per input hash for
 * de-duplication across replicas.
 *
 * The dedup check and the write run in one Lua script, so a record is either stored and marked
 * or neither: a retry after a failure can never lose a record to its own dedup key.
 * Trimming is approximate (`~`) for speed; export applies the age limit exactly.
 * Keys of one record span several hash slots, so this targets a single Redis, not a cluster.
 */
import { Redis } from 'ioredis';
import { parseDatasetLine, type DatasetRecord } from './dataset-record.js';
import {
  assertDatasetName,
  emptyAppendResult,
  filterRecords,
  recordOutcome,
  silentLogger,
  type AppendResult,
  type DatasetFilter,
  type DatasetInfo,
  type DatasetStore,
  type SamplingLogger,
} from './dataset-store.js';

export interface RedisDatasetStoreOptions {
  /** An ioredis instance (owned by the caller, not closed here) or a URL (connection owned here). */
  redis: Redis | string;
  /** Default `bellwether:`. */
  keyPrefix?: string;
  /** Approximate cap on records per dataset. Default 100,000. */
  maxLen?: number;
  /** Records older than this are trimmed and not exported; 0 keeps them. Default 30 days. */
  maxAgeSeconds?: number;
  /** How long an input hash blocks duplicates. Default: maxAgeSeconds, or 7 days if that is 0. */
  dedupTtlSeconds?: number;
  /** XRANGE page size for export. Default 500. */
  pageSize?: number;
  logger?: SamplingLogger;
}

const DAY_SECONDS = 24 * 60 * 60;
/**
 * A stream id is Redis's clock at write time, a record's sampled_at the sampling replica's clock at
 * sampling time: a replica whose clock runs ahead of Redis's writes records whose id is earlier than
 * their sampled_at. An export with `since` starts scanning this much earlier so such records are
 * still found; the record filter then applies `since` exactly.
 */
const SINCE_CLOCK_SKEW_MS = 5 * 60 * 1000;
const RECORD_FIELD = 'r';

/**
 * KEYS: dedup key, stream, names set. ARGV: dedup TTL s, max length, dataset name, record JSON,
 * min id for age trimming ('0' = none). Returns 1 when stored, 0 for a duplicate.
 */
const APPEND_SCRIPT = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', '${RECORD_FIELD}', ARGV[4])
if ARGV[5] ~= '0' then redis.call('XTRIM', KEYS[2], 'MINID', '~', ARGV[5]) end
redis.call('SADD', KEYS[3], ARGV[3])
return 1
`;

export class RedisDatasetStore implements DatasetStore {
  readonly #redis: Redis;
  readonly #ownsConnection: boolean;
  readonly #prefix: string;
  readonly #maxLen: number;
  readonly #maxAgeMs: number;
  readonly #dedupTtlSeconds: number;
  readonly #pageSize: number;

  constructor(opts: RedisDatasetStoreOptions) {
    const logger = opts.logger ?? silentLogger;
    if (typeof opts.redis === 'string') {
      // Fail fast while Redis is down: the write queue holds and retries; a request held for
      // many reconnect attempts would only stall it.
      this.#redis = new Redis(opts.redis, { maxRetriesPerRequest: 1 });
      this.#ownsConnection = true;
      let down = false;
      this.#redis.on('error', (err: Error) => {
        if (!down) logger.warn({ err: err.message }, 'dataset store lost its Redis connection');
        down = true;
      });
      this.#redis.on('ready', () => {
        down = false;
      });
    } else {
      this.#redis = opts.redis;
      this.#ownsConnection = false;
    }
    this.#prefix = opts.keyPrefix ?? 'bellwether:';
    this.#maxLen = opts.maxLen ?? 100_000;
    const maxAgeSeconds = opts.maxAgeSeconds ?? 30 * DAY_SECONDS;
    this.#maxAgeMs = maxAgeSeconds * 1000;
    this.#dedupTtlSeconds = Math.max(1, Math.ceil(opts.dedupTtlSeconds ?? (maxAgeSeconds > 0 ? maxAgeSeconds : 7 * DAY_SECONDS)));
    this.#pageSize = opts.pageSize ?? 500;
  }

  async append(records: readonly DatasetRecord[]): Promise<AppendResult> {
    for (const r of records) assertDatasetName(r.route);
    const result = emptyAppendResult();
    if (records.length === 0) return result;
    const minId = this.#maxAgeMs > 0 ? String(Date.now() - this.#maxAgeMs) : '0';
    const pipeline = this.#redis.pipeline();
    for (const r of records) {
      pipeline.eval(
        APPEND_SCRIPT,
        3,
        this.#dedupKey(r.route, r.input_hash),
        this.#streamKey(r.route),
        this.#namesKey(),
        this.#dedupTtlSeconds,
        this.#maxLen,
        r.route,
        JSON.stringify(r),
        minId,
      );
    }
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('dataset store: Redis pipeline was discarded');
    replies.forEach(([err, reply], i) => {
      if (err !== null) throw err;
      recordOutcome(result, i, reply === 1 ? 'stored' : 'duplicate');
    });
    return result;
  }

  async list(): Promise<DatasetInfo[]> {
    const names = (await this.#redis.smembers(this.#namesKey())).sort();
    if (names.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const name of names) {
      pipeline.xlen(this.#streamKey(name));
      pipeline.xrevrange(this.#streamKey(name), '+', '-', 'COUNT', 1);
    }
    const replies = (await pipeline.exec()) ?? [];
    return names.map((name, i) => {
      const [lenErr, len] = replies[2 * i] ?? [null, 0];
      const [lastErr, last] = replies[2 * i + 1] ?? [null, []];
      if (lenErr) throw lenErr;
      if (lastErr) throw lastErr;
      const info: DatasetInfo = { name, records: Number(len) };
      const lastId = (last as [string, string[]][])[0]?.[0];
      if (lastId !== undefined) info.updatedAt = new Date(streamIdMs(lastId)).toISOString();
      return info;
    });
  }

  export(name: string, filter: DatasetFilter = {}): AsyncIterable<DatasetRecord> {
    assertDatasetName(name);
    // Entries are added after sampling, so up to clock skew an entry id (its write time) is not
    // earlier than its sampled_at: `since`, less the skew margin, can start the scan.
    let startMs = filter.since ? filter.since.getTime() - SINCE_CLOCK_SKEW_MS : 0;
    if (this.#maxAgeMs > 0) startMs = Math.max(startMs, Date.now() - this.#maxAgeMs);
    return filterRecords(this.#scan(this.#streamKey(name), startMs > 0 ? String(startMs) : '-'), filter);
  }

  async *#scan(key: string, start: string): AsyncGenerator<DatasetRecord> {
    let from = start;
    for (;;) {
      const page = await this.#redis.xrange(key, from, '+', 'COUNT', this.#pageSize);
      for (const [, fields] of page) {
        const json = fieldValue(fields, RECORD_FIELD);
        const record = json === undefined ? undefined : parseDatasetLine(json);
        if (record !== undefined) yield record;
      }
      const lastId = page.at(-1)?.[0];
      if (lastId === undefined || page.length < this.#pageSize) return;
      from = `(${lastId}`;
    }
  }

  async close(): Promise<void> {
    if (!this.#ownsConnection) return;
    try {
      await this.#redis.quit();
    } catch {
      // Already disconnected (Redis down at shutdown): nothing left to release gracefully.
      this.#redis.disconnect();
    }
  }

  #namesKey(): string {
    return `${this.#prefix}datasets`;
  }

  #streamKey(name: string): string {
    return `${this.#prefix}dataset:${name}`;
  }

  #dedupKey(name: string, hash: string): string {
    return `${this.#prefix}dataset-dedup:${name}:${hash}`;
  }
}

function streamIdMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function fieldValue(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
