/**
 * Bounded, never-blocking hand-off from the request path to a DatasetStore (STYLE.md: the hot
 * path does the minimum). `offer` is synchronous and O(1); a background loop writes batches.
 *
 * Records stay in the ring buffer until the store confirms them, so the batch being written
 * counts against `capacity`: memory is bounded by `capacity` records whatever the outage length,
 * and nothing accepted is lost while the store is down — only new offers beyond capacity are
 * dropped (and reported). Dedup in the stores makes a retried batch harmless.
 */
import type { DatasetRecord } from './dataset-record.js';
import {
  isValidDatasetName,
  silentLogger,
  type AppendResult,
  type DatasetStore,
  type SamplingLogger,
} from './dataset-store.js';

export type SampleResult = 'stored' | 'dropped' | 'duplicate';

export interface WriteQueueOptions {
  store: DatasetStore;
  /** Records held at most (queued + being written). Default 10,000. */
  capacity?: number;
  /** Records per append. Default 100. */
  batchSize?: number;
  /** A partial batch waits at most this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Called once per offered record with its final fate (feeds `bellwether_samples_total`). */
  onResult?: (route: string, variant: string, result: SampleResult) => void;
  logger?: SamplingLogger;
  /** Backoff between failed appends: doubles from initial to max, with jitter. Defaults 200 ms / 30 s. */
  retryInitialDelayMs?: number;
  retryMaxDelayMs?: number;
  /** An append that takes longer counts as failed (and is retried). Default 10 s. */
  appendTimeoutMs?: number;
}

export interface WriteQueueStats {
  pending: number;
  stored: number;
  duplicates: number;
  dropped: number;
  failedAppends: number;
  storeDown: boolean;
}

export class WriteQueue {
  readonly #store: DatasetStore;
  readonly #capacity: number;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #onResult: (route: string, variant: string, result: SampleResult) => void;
  readonly #logger: SamplingLogger;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #appendTimeoutMs: number;

  readonly #ring: (DatasetRecord | undefined)[];
  #head = 0;
  #size = 0;

  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #wakeFromBackoff: (() => void) | undefined;
  #idleWaiters = new Set<() => void>();
  #closed = false;

  #stats: WriteQueueStats = { pending: 0, stored: 0, duplicates: 0, dropped: 0, failedAppends: 0, storeDown: false };
  #outage: { since: number; attempts: number; dropped: number } | undefined;
  /** Drops are logged once per episode of a full queue, not per record. */
  #saturated = false;
  #badNames = new Set<string>();

  constructor(opts: WriteQueueOptions) {
    this.#store = opts.store;
    this.#capacity = positive(opts.capacity ?? 10_000, 'capacity');
    this.#batchSize = positive(opts.batchSize ?? 100, 'batchSize');
    this.#flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.#onResult = opts.onResult ?? (() => {});
    this.#logger = opts.logger ?? silentLogger;
    this.#retryInitialMs = opts.retryInitialDelayMs ?? 200;
    this.#retryMaxMs = opts.retryMaxDelayMs ?? 30_000;
    this.#appendTimeoutMs = opts.appendTimeoutMs ?? 10_000;
    this.#ring = new Array<DatasetRecord | undefined>(this.#capacity);
  }

  /** Queues a record for writing; false (and a `dropped` result) if it cannot be accepted. */
  offer(record: DatasetRecord): boolean {
    if (this.#closed || !this.#acceptableName(record.route) || this.#size === this.#capacity) {
      this.#drop(record);
      return false;
    }
    this.#ring[(this.#head + this.#size) % this.#capacity] = record;
    this.#size++;
    if (this.#size >= this.#batchSize) this.#startDrain();
    else this.#armTimer();
    return true;
  }

  stats(): WriteQueueStats {
    return { ...this.#stats, pending: this.#size, storeDown: this.#outage !== undefined };
  }

  /**
   * Writes everything queued now, cutting a retry backoff short once. Resolves true when the
   * queue is empty, false if `timeoutMs` passed first (the records stay queued).
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.#size === 0) return Promise.resolve(true);
    this.#wakeFromBackoff?.();
    this.#startDrain();
    return new Promise<boolean>((resolve) => {
      const done = (drained: boolean): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(onIdle);
        resolve(drained);
      };
      const onIdle = (): void => done(true);
      // Not unref'd: during shutdown this is what keeps the process alive until the flush ends.
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idleWaiters.add(onIdle);
    });
  }

  /**
   * Stops accepting and stops the loop after the append in flight settles. Whatever is still
   * queued is reported as dropped: call `flush` first. The store is not closed (the caller owns it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeFromBackoff?.();
    await this.#draining;
    if (this.#size > 0) {
      this.#logger.warn({ dropped: this.#size }, 'sample queue closed with unwritten records; they are dropped');
      while (this.#size > 0) this.#drop(this.#shift());
    }
  }

  #armTimer(): void {
    if (this.#timer !== undefined || this.#draining !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#startDrain();
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  #startDrain(): void {
    if (this.#draining !== undefined || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // setImmediate: offer() must return before any store work starts.
    this.#draining = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#size > 0 && !this.#closed) {
        const batch = this.#peek(Math.min(this.#size, this.#batchSize));
        let result: AppendResult;
        try {
          result = await withTimeout(this.#store.append(batch), this.#appendTimeoutMs);
        } catch (err) {
          await this.#backoff(err);
          continue;
        }
        for (let i = 0; i < batch.length; i++) this.#shift();
        this.#confirm(batch, result);
      }
    } finally {
      this.#draining = undefined;
      if (this.#size > 0 && !this.#closed) this.#armTimer();
    }
  }

  #confirm(batch: readonly DatasetRecord[], result: AppendResult): void {
    if (this.#outage !== undefined) {
      const { since, attempts, dropped } = this.#outage;
      this.#logger.info(
        { downForMs: Date.now() - since, failedAttempts: attempts, droppedWhileDown: dropped, pending: this.#size },
        'dataset store recovered; writing held samples',
      );
      this.#outage = undefined;
    }
    batch.forEach((record, i) => {
      const outcome = result.outcomes[i] === 'duplicate' ? 'duplicate' : 'stored';
      if (outcome === 'duplicate') this.#stats.duplicates++;
      else this.#stats.stored++;
      this.#report(record, outcome);
    });
    if (this.#size === 0) for (const waiter of [...this.#idleWaiters]) waiter();
    if (this.#size < this.#capacity / 2) this.#saturated = false;
  }

  async #backoff(err: unknown): Promise<void> {
    this.#stats.failedAppends++;
    if (this.#outage === undefined) {
      this.#outage = { since: Date.now(), attempts: 0, dropped: 0 };
      this.#logger.error(
        { err: errorMessage(err), pending: this.#size },
        'dataset store unavailable; holding samples and retrying',
      );
    }
    const attempt = ++this.#outage.attempts;
    const ceiling = Math.min(this.#retryMaxMs, this.#retryInitialMs * 2 ** Math.min(attempt - 1, 30));
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(wake, delay);
      timer.unref();
      function wake(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeFromBackoff = wake;
    });
    this.#wakeFromBackoff = undefined;
  }

  #acceptableName(route: string): boolean {
    if (isValidDatasetName(route)) return true;
    if (!this.#badNames.has(route) && this.#badNames.size < 100) {
      this.#badNames.add(route);
      this.#logger.warn({ route }, 'route is not a valid dataset name; its samples are dropped');
    }
    return false;
  }

  #drop(record: DatasetRecord): void {
    this.#stats.dropped++;
    if (this.#outage !== undefined) this.#outage.dropped++;
    else if (!this.#saturated && !this.#closed && this.#size === this.#capacity) {
      this.#saturated = true;
      this.#logger.warn({ capacity: this.#capacity }, 'sample queue full; dropping new samples');
    }
    this.#report(record, 'dropped');
  }

  #report(record: DatasetRecord, result: SampleResult): void {
    try {
      this.#onResult(record.route, record.source.variant, result);
    } catch (err) {
      // A metrics callback must not break the writer loop or the request path.
      this.#logger.error({ err: errorMessage(err) }, 'sample onResult callback threw');
    }
  }

  #peek(n: number): DatasetRecord[] {
    const out: DatasetRecord[] = [];
    for (let i = 0; i < n; i++) out.push(this.#ring[(this.#head + i) % this.#capacity] as DatasetRecord);
    return out;
  }

  #shift(): DatasetRecord {
    const record = this.#ring[this.#head] as DatasetRecord;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#capacity;
    this.#size--;
    return record;
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`WriteQueue ${name} must be a positive integer`);
  return n;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dataset store append timed out after ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
