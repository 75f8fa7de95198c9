// Per-model circuit breakers. Closed → open on N consecutive failures or a failure ratio over a
// sliding window (with a minimum of requests); open → half-open after `openSeconds`, where a few
// probe requests decide between closing again and re-opening.
import type { CircuitBreakerConfig } from '../config/types.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

interface Breaker {
  state: BreakerState;
  consecutive: number;
  window: OutcomeWindow;
  openedAt: number;
  probesInFlight: number;
  probeSuccesses: number;
}

export class CircuitBreakers {
  private readonly breakers = new Map<string, Breaker>();
  private readonly settings = new Map<string, Required<CircuitBreakerConfig>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** May a request go to `model` now? In half-open state only a few probes are let through. */
  allow(model: string, cfg: Required<CircuitBreakerConfig>): boolean {
    this.settings.set(model, cfg);
    const b = this.get(model);
    if (b.state === 'open') {
      if (this.now() - b.openedAt < cfg.openSeconds * 1000) return false;
      b.state = 'half_open';
      b.probesInFlight = 0;
      b.probeSuccesses = 0;
    }
    if (b.state === 'half_open') {
      if (b.probesInFlight >= cfg.halfOpenProbes) return false;
      b.probesInFlight++;
    }
    return true;
  }

  record(model: string, ok: boolean): void {
    const cfg = this.settings.get(model);
    if (!cfg) return; // only models routed through allow() (challengers with a fallback) have breakers
    const b = this.get(model);
    const now = this.now();
    if (b.state === 'half_open') {
      b.probesInFlight = Math.max(0, b.probesInFlight - 1);
      if (!ok) return this.open(b, now);
      if (++b.probeSuccesses >= cfg.halfOpenProbes) this.close(b);
      return;
    }
    b.consecutive = ok ? 0 : b.consecutive + 1;
    b.window.add(now, ok);
    b.window.dropBefore(now - cfg.windowSeconds * 1000);
    const ratioTripped = b.window.size >= cfg.minRequests && b.window.failures / b.window.size >= cfg.failureRatio;
    if (b.state === 'closed' && (b.consecutive >= cfg.consecutiveFailures || ratioTripped)) this.open(b, now);
  }

  /**
   * An attempt that ended without a verdict on the model's health (the client went away): frees its
   * half-open probe slot, which would otherwise stay taken and keep the breaker half-open forever.
   */
  release(model: string): void {
    const b = this.breakers.get(model);
    if (b?.state === 'half_open') b.probesInFlight = Math.max(0, b.probesInFlight - 1);
  }

  state(model: string): BreakerState {
    const b = this.breakers.get(model);
    if (!b) return 'closed';
    const cfg = this.settings.get(model);
    if (b.state === 'open' && cfg && this.now() - b.openedAt >= cfg.openSeconds * 1000) return 'half_open';
    return b.state;
  }

  snapshot(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const model of this.breakers.keys()) out[model] = this.state(model);
    return out;
  }

  private open(b: Breaker, now: number): void {
    b.state = 'open';
    b.openedAt = now;
    b.window = new OutcomeWindow();
    b.consecutive = 0;
  }

  private close(b: Breaker): void {
    b.state = 'closed';
    b.window = new OutcomeWindow();
    b.consecutive = 0;
  }

  private get(model: string): Breaker {
    let b = this.breakers.get(model);
    if (!b) {
      b = { state: 'closed', consecutive: 0, window: new OutcomeWindow(), openedAt: 0, probesInFlight: 0, probeSuccesses: 0 };
      this.breakers.set(model, b);
    }
    return b;
  }
}

/**
 * Outcomes of the last `windowSeconds`, oldest first, with the failure count kept as they come and go:
 * every request of a breaker-guarded model records one, so the ratio must not cost a pass over a
 * window that holds every request of the last 30 s (15,000 at 500 req/s).
 */
class OutcomeWindow {
  private at: number[] = [];
  private ok: boolean[] = [];
  private head = 0;
  failures = 0;

  get size(): number {
    return this.at.length - this.head;
  }

  add(at: number, ok: boolean): void {
    this.at.push(at);
    this.ok.push(ok);
    if (!ok) this.failures++;
  }

  dropBefore(horizon: number): void {
    while (this.head < this.at.length && (this.at[this.head] as number) < horizon) {
      if (!this.ok[this.head]) this.failures--;
      this.head++;
    }
    // Compact now and then rather than shifting per entry.
    if (this.head > 1024 && this.head * 2 > this.at.length) {
      this.at = this.at.slice(this.head);
      this.ok = this.ok.slice(this.head);
      this.head = 0;
    }
  }
}
