// Where a model's prices come from: its own `models.X.pricing` in the config, else the shipped,
// dated list-price table (config/pricing.yaml) for hosted OpenAI / Anthropic models. A model found in
// neither is unpriced (cost `unknown`), never free. The table is a local file, read once, never
// fetched at start-up (NOTES.md: a fetched table once priced new models at 0 for everyone).
import { existsSync, readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';
import { PricingSchema } from '../config/schema.js';
import type { ModelConfig, Pricing, ProviderConfig } from '../config/types.js';

export type PriceFamily = 'openai' | 'anthropic';

export interface PricingTable {
  takenAt: string;
  families: Record<PriceFamily, Map<string, Pricing>>;
}

export type PricingSource = 'config' | 'table' | 'none';

export function parsePricingTable(text: string, file = 'pricing.yaml'): PricingTable {
  const raw = parse(text) as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object' || typeof raw.takenAt !== 'string') throw new Error(`${file}: takenAt (the date the prices were taken) is required`);
  const families = { openai: new Map<string, Pricing>(), anthropic: new Map<string, Pricing>() };
  for (const family of ['openai', 'anthropic'] as const) {
    const section = (raw[family] ?? {}) as Record<string, unknown>;
    for (const [model, pricing] of Object.entries(section)) {
      if (!Value.Check(PricingSchema, pricing)) throw new Error(`${file}:${family}.${model}: invalid pricing (need inputPerMTok and outputPerMTok, numbers >= 0)`);
      families[family].set(model, pricing);
    }
  }
  return { takenAt: raw.takenAt, families };
}

let shipped: PricingTable | undefined;

/** The table shipped in config/pricing.yaml, found relative to this module (src/ or dist/src/). */
export function shippedPricingTable(): PricingTable {
  if (shipped) return shipped;
  for (const up of ['../../config/pricing.yaml', '../../../config/pricing.yaml']) {
    const url = new URL(up, import.meta.url);
    if (existsSync(url)) return (shipped = parsePricingTable(readFileSync(url, 'utf8'), url.pathname));
  }
  // Without the file nothing is priced from a table: costs show as unknown, which is visible and safe.
  return (shipped = { takenAt: 'missing', families: { openai: new Map(), anthropic: new Map() } });
}

function familyOf(type: ProviderConfig['type'] | undefined): PriceFamily | undefined {
  if (type === 'openai' || type === 'azure-openai') return 'openai';
  if (type === 'anthropic') return 'anthropic';
  return undefined; // self-hosted and simulated models have no list price
}

/** Candidate table keys for an upstream model name: exact, without a date snapshot, without -latest. */
function candidates(name: string): string[] {
  const undated = name.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '').replace(/-latest$/, '');
  return undated === name ? [name] : [name, undated];
}

const resolved = new WeakMap<ModelConfig, { pricing: Pricing | undefined; source: PricingSource }>();

export function pricingFor(
  model: ModelConfig,
  providerType: ProviderConfig['type'] | undefined,
  table: PricingTable = shippedPricingTable(),
): { pricing: Pricing | undefined; source: PricingSource } {
  const cached = table === shipped ? resolved.get(model) : undefined;
  if (cached) return cached;
  let out: { pricing: Pricing | undefined; source: PricingSource } = { pricing: undefined, source: 'none' };
  if (model.pricing) out = { pricing: model.pricing, source: 'config' };
  else {
    const family = familyOf(providerType);
    const prices = family ? table.families[family] : undefined;
    for (const key of prices ? candidates(model.upstreamModel) : []) {
      const hit = prices?.get(key);
      if (hit) {
        out = { pricing: hit, source: 'table' };
        break;
      }
    }
  }
  if (table === shipped) resolved.set(model, out);
  return out;
}
