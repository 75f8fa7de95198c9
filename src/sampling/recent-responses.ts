// Recent responses keyed by request id, so feedback that arrives later can be attributed to the route,
// variant and model that answered — and a response rated negative can still be sampled. Memory holds
// everything for this replica (bounded, TTL); with Redis the attribution is shared so any replica can
// take the feedback.
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { RequestLedger } from '../gateway/ledger.js';
import type { SamplingLogger } from './dataset-store.js';

export interface Attribution {
  route: string;
  variant: string;
  model: string;
}

export interface RecentEntry extends Attribution {
  at: number;
  /** Only kept locally: the finished request, for late sampling on negative feedback. */
  ledger?: RequestLedger;
  sampled?: boolean;
}

export interface RecentResponses {
  remember(id: string, entry: RecentEntry): void;
  lookup(id: string): Promise<RecentEntry | undefined>;
  close(): Promise<void>;
}

/**
 * Bounded by count, oldest first out: attribution is small and kept for `maxEntries` requests; full
 * requests (for sampling on negative feedback) are large, so only the most recent `maxHeld` keep
 * theirs. lru-cache evicts in O(1): the Map idiom (`map.entries().next()` then delete) costs a scan
 * over every deleted slot V8 has not compacted yet — 20–65 µs per request once 100,000 ids were held,
 * on the request thread.
 */
export class MemoryRecentResponses implements RecentResponses {
  private readonly entries: LRUCache<string, RecentEntry>;
  private readonly held: LRUCache<string, RecentEntry>;

  constructor(
    private readonly ttlMs: number,
    maxEntries: number,
    private readonly now: () => number = Date.now,
    maxHeld = 2000,
  ) {
    this.entries = new LRUCache({ max: maxEntries });
    this.held = new LRUCache({
      max: maxHeld,
      dispose: (entry, _id, reason) => {
        if (reason === 'evict') delete entry.ledger;
      },
    });
  }

  remember(id: string, entry: RecentEntry): void {
    this.entries.set(id, entry);
    if (entry.ledger) this.held.set(id, entry);
  }

  async lookup(id: string): Promise<RecentEntry | undefined> {
    return this.local(id);
  }

  local(id: string): RecentEntry | undefined {
    // peek: a lookup must not make an entry live longer than the ones remembered after it.
    const entry = this.entries.peek(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.ttlMs) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.held.clear();
  }
}

/** Local entries plus shared attribution in Redis (`SET key json EX ttl`, pipelined off the request path). */
export class RedisRecentResponses implements RecentResponses {
  private pending: [string, string][] = [];
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
    private readonly memory: MemoryRecentResponses,
    private readonly logger: SamplingLogger,
  ) {}

  remember(id: string, entry: RecentEntry): void {
    this.memory.remember(id, entry);
    this.pending.push([id, JSON.stringify({ route: entry.route, variant: entry.variant, model: entry.model, at: entry.at })]);
    if (this.pending.length > 10_000) this.pending.shift();
    this.timer ??= setTimeout(() => void this.flush(), 50);
  }

  async lookup(id: string): Promise<RecentEntry | undefined> {
    const local = this.memory.local(id);
    if (local) return local;
    let raw: string | null;
    try {
      raw = await this.redis.get(this.key(id));
    } catch (err) {
      // Redis down: only this replica's own requests can be attributed until it is back.
      this.logger.warn({ err: String(err) }, 'request-id cache: Redis lookup failed');
      return undefined;
    }
    if (!raw) return undefined;
    return JSON.parse(raw) as RecentEntry;
  }

  async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [id, json] of batch) pipeline.set(this.key(id), json, 'EX', this.ttlSeconds);
    try {
      await pipeline.exec();
      if (this.failing) this.logger.info({}, 'request-id cache: Redis reachable again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn({ err: String(err), lost: batch.length }, 'request-id cache: Redis write failed; feedback for these requests only works on this replica');
      this.failing = true;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }

  private key(id: string): string {
    return `${this.keyPrefix}req:${id}`;
  }
}
