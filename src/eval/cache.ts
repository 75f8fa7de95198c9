/**
 * Response cache in the run directory, keyed by (model target, the model serving it, request, attempt). It lets a
 * scoring change re-score without re-calling models, and lets an interrupted run resume.
 * An entry written by the *current* run is a live measurement (resume); an entry from an earlier
 * run is a replay, and replays never supply cost or latency.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { ChatCallResult } from './http.js';

export interface CacheEntry {
  key: string;
  runId: string;
  at: string;
  result: ChatCallResult;
}

/** Canonical JSON (sorted keys) so key order in a YAML file doesn't change the cache key. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `serving` is the model behind the target (serving.ts): the route and arm alone don't say which model answered. */
export function cacheKey(target: { model: string; forceVariant?: string; serving: string }, body: unknown, attempt: number): string {
  return createHash('sha256').update(canonical({ target, body, attempt })).digest('hex');
}

export class ResponseCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(private readonly file: string) {
    if (!existsSync(file)) return;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const e = JSON.parse(line) as CacheEntry;
        this.entries.set(e.key, e);
      } catch {
        // A torn last line from a killed run: skip it, the call is simply made again.
      }
    }
  }

  get(key: string): CacheEntry | undefined {
    return this.entries.get(key);
  }

  /** Only successful answers are cached: an error must be retried, not replayed. */
  put(entry: CacheEntry): void {
    if (entry.result.status === null || entry.result.status >= 400) return;
    this.entries.set(entry.key, entry);
    mkdirSync(dirname(this.file), { recursive: true });
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}
