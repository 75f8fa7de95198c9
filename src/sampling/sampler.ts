// Which finished requests become dataset records. The same random draw at the same rate for both arms
// keeps the dataset representative; interesting cases (errors, fallbacks, failed checks, negative
// feedback) are always kept and tagged so they can be told apart from the representative sample.
import type { Config, RouteConfig } from '../config/types.js';
import type { RequestLedger } from '../gateway/ledger.js';
import { buildRecord } from './record-builder.js';
import { createRedactor, type Redactor } from './redact.js';
import type { WriteQueue } from './write-queue.js';

export type SampleReason = 'sampled' | 'error' | 'fallback' | 'check_failed' | 'negative_feedback';

export class Sampler {
  private readonly redactors = new Map<string, Redactor>();

  constructor(
    config: Config,
    secrets: string[],
    private readonly queue: WriteQueue,
    private readonly random: () => number = Math.random,
  ) {
    for (const route of Object.values(config.routes)) {
      if (!route.sampling) continue;
      this.redactors.set(route.name, createRedactor({ secrets, patterns: route.sampling.redact ?? [] }));
    }
  }

  enabled(route: RouteConfig): boolean {
    return this.redactors.has(route.name);
  }

  /** Reasons to keep this request (empty: not sampled). Forced requests (evals) are never sampled. */
  reasons(ledger: RequestLedger, checksFailed: boolean): SampleReason[] {
    const sampling = ledger.route.sampling;
    if (!sampling || ledger.forced) return [];
    const out: SampleReason[] = [];
    if (this.random() < sampling.rate) out.push('sampled');
    if (sampling.keepErrors !== false && ledger.errorClass !== 'none' && ledger.errorClass !== 'client_cancelled') out.push('error');
    if (sampling.keepErrors !== false && ledger.fallbackReason !== undefined) out.push('fallback');
    if (sampling.keepFailedChecks !== false && checksFailed) out.push('check_failed');
    return out;
  }

  offer(ledger: RequestLedger, reasons: SampleReason[]): boolean {
    const redactor = this.redactors.get(ledger.route.name);
    const sampling = ledger.route.sampling;
    if (!redactor || !sampling || reasons.length === 0) return false;
    const record = buildRecord(ledger, redactor, sampling.rate, [...reasons, ...(sampling.tags ?? [])]);
    return this.queue.offer(record);
  }
}
