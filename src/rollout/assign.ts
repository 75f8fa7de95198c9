// Deterministic sticky assignment: hash(route, unit key) → one of 10,000 buckets; the challenger owns
// buckets [0, percent × 100). Raising the percent only adds buckets, so nobody on the challenger is
// ever moved back to the champion.
import { randomInt } from 'node:crypto';
import type { AssignmentKey } from '../config/types.js';

export const BUCKETS = 10_000;

/** FNV-1a 32-bit: fast, well-distributed for short keys, stable across versions and replicas. */
export function bucketOf(route: string, key: string): number {
  let h = 0x811c9dc5;
  const text = `${route}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche (murmur3 fmix32) so similar keys (user-1, user-2) spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

export function unitKey(
  spec: AssignmentKey,
  headers: Record<string, string | string[] | undefined>,
  body: Record<string, unknown>,
): string | undefined {
  if (spec.kind === 'header') {
    const v = headers[spec.name];
    const s = Array.isArray(v) ? v[0] : v;
    return s ? s : undefined;
  }
  if (spec.kind === 'body-user') return typeof body.user === 'string' && body.user ? body.user : undefined;
  return undefined;
}

/** Bucket for this request: sticky when a unit key is present, random per request otherwise. */
export function assignBucket(route: string, key: string | undefined): number {
  return key === undefined ? randomInt(BUCKETS) : bucketOf(route, key);
}

export function isChallenger(bucket: number, percent: number): boolean {
  return bucket < Math.round(percent * (BUCKETS / 100));
}
