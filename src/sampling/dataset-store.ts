/**
 * Where sampled records are persisted: one dataset per route (`record.route` is the name).
 * Implementations: `JsonlDatasetStore` (files, one replica) and `RedisDatasetStore` (shared by
 * replicas). Both de-duplicate by `input_hash` within a dataset.
 */
import type { DatasetRecord } from './dataset-record.js';

export type AppendOutcome = 'stored' | 'duplicate';

/**
 * What `append` did. A duplicate (same `input_hash` already in the dataset's dedup window) is
 * not written; it is reported rather than thrown because it is normal, not an error.
 */
export interface AppendResult {
  stored: number;
  duplicates: number;
  /** One entry per input record, in input order. */
  outcomes: AppendOutcome[];
}

export interface DatasetInfo {
  name: string;
  records: number;
  bytes?: number;
  /** ISO 8601 time of the last write. */
  updatedAt?: string;
}

export interface DatasetFilter {
  route?: string;
  variant?: string;
  outcome?: string;
  /** Every listed tag must be present. */
  tags?: string[];
  /** Inclusive bounds on `source.sampled_at`. */
  since?: Date;
  until?: Date;
  /** At most this many records, the oldest matching first. */
  limit?: number;
}

export interface DatasetStore {
  /**
   * Persists records, each into the dataset named by its `route`. Rejects when the backend is
   * unavailable (the caller retries: already-stored records then come back as duplicates) or
   * with `InvalidDatasetNameError` before writing anything if a route is not a valid name.
   */
  append(records: readonly DatasetRecord[]): Promise<AppendResult>;
  list(): Promise<DatasetInfo[]>;
  /**
   * Streams a dataset oldest first (newest last). An unknown dataset yields nothing; an invalid
   * name throws `InvalidDatasetNameError`. Lines that are not valid records are skipped.
   */
  export(name: string, filter?: DatasetFilter): AsyncIterable<DatasetRecord>;
  close(): Promise<void>;
}

/** pino-compatible subset, so sampling code takes the gateway's logger without depending on pino. */
export interface SamplingLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: SamplingLogger = { info() {}, warn() {}, error() {} };

/**
 * Names become directory and file names and Redis keys, and arrive from admin URLs: letters,
 * digits, `.`, `_`, `-`, not starting with a dot, at most 128 characters.
 */
const DATASET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export function isValidDatasetName(name: string): boolean {
  return DATASET_NAME.test(name);
}

export class InvalidDatasetNameError extends Error {
  constructor(readonly datasetName: string) {
    super(`invalid dataset name ${JSON.stringify(datasetName)}: use letters, digits, ".", "_" or "-"`);
    this.name = 'InvalidDatasetNameError';
  }
}

export function assertDatasetName(name: string): void {
  if (!isValidDatasetName(name)) throw new InvalidDatasetNameError(name);
}

export function emptyAppendResult(): AppendResult {
  return { stored: 0, duplicates: 0, outcomes: [] };
}

export function recordOutcome(result: AppendResult, index: number, outcome: AppendOutcome): void {
  result.outcomes[index] = outcome;
  if (outcome === 'stored') result.stored++;
  else result.duplicates++;
}

export function matchesFilter(record: DatasetRecord, filter: DatasetFilter): boolean {
  if (filter.route !== undefined && record.route !== filter.route) return false;
  if (filter.variant !== undefined && record.source.variant !== filter.variant) return false;
  if (filter.outcome !== undefined && record.outcome !== filter.outcome) return false;
  if (filter.tags !== undefined && !filter.tags.every((tag) => record.tags.includes(tag))) return false;
  if (filter.since !== undefined || filter.until !== undefined) {
    const at = Date.parse(record.source.sampled_at);
    if (filter.since !== undefined && at < filter.since.getTime()) return false;
    if (filter.until !== undefined && at > filter.until.getTime()) return false;
  }
  return true;
}

/**
 * Applies a filter and limit to a stream of already-validated records; shared by the stores
 * so both answer the same query the same way.
 */
export async function* filterRecords(
  records: AsyncIterable<DatasetRecord>,
  filter: DatasetFilter = {},
): AsyncGenerator<DatasetRecord> {
  const limit = filter.limit ?? Infinity;
  if (limit <= 0) return;
  let yielded = 0;
  for await (const record of records) {
    if (!matchesFilter(record, filter)) continue;
    yield record;
    if (++yielded >= limit) return;
  }
}
