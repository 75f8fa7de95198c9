// Which finished requests become dataset records. The same random draw at the same rate for both arms
// keeps the dataset representative; interesting cases (errors, fallbacks, failed checks, negative
// feedback) are always kept and tagged so they can be told apart from the representative sample.
import type { RouteConfig } from '../config/types.js';
import type { RequestLedger } from '../gateway/ledger.js';
import { sourceFromLedger } from './sample-source.js';
import type { SampleWriter } from './sample-writer.js';

export type SampleReason = 'sampled' | 'error' | 'fallback' | 'check_failed' | 'negative_feedback';

export class Sampler {
  constructor(
    private readonly writer: Pick<SampleWriter, 'offer'>,
    private readonly random: () => number = Math.random,
  ) {}

  enabled(route: RouteConfig): boolean {
    return route.sampling !== undefined;
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

  /** Hands the request to the writer (redaction and writing happen there, off this thread). */
  offer(ledger: RequestLedger, reasons: SampleReason[]): boolean {
    const sampling = ledger.route.sampling;
    // Checked here too: reasons from elsewhere (negative feedback) must not bypass the eval exclusion.
    if (!sampling || ledger.forced || reasons.length === 0) return false;
    return this.writer.offer(sourceFromLedger(ledger, sampling.rate, [...reasons, ...(sampling.tags ?? [])]));
  }
}
