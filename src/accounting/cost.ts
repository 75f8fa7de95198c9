// Cost in USD from a model's list prices. An unpriced model or a call without usage is `undefined`
// (unknown) — never 0, which would silently make a model look free (NOTES.md).
import type { Pricing } from '../config/types.js';
import type { Usage } from './usage.js';

/** Anthropic bills a 5-minute cache write at 1.25x the input price when no explicit price is given. */
const DEFAULT_CACHE_WRITE_MULTIPLIER = 1.25;

export function costUsd(usage: Usage | undefined, pricing: Pricing | undefined): number | undefined {
  if (!usage || !pricing) return undefined;
  const cached = pricing.cachedInputPerMTok ?? pricing.inputPerMTok;
  const write = pricing.cacheWritePerMTok ?? pricing.inputPerMTok * DEFAULT_CACHE_WRITE_MULTIPLIER;
  return (
    (usage.input * pricing.inputPerMTok +
      usage.cachedInput * cached +
      usage.cacheWrite * write +
      usage.output * pricing.outputPerMTok) /
    1_000_000
  );
}
