// The Prometheus registry (PRODUCT.md section 7). One registry per gateway instance, every series for
// configured routes created at 0 at start-up so ratios and alerts see both arms from the first scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config/types.js';
import { ERROR_CLASSES } from '../gateway/errors.js';
import type { Usage } from '../accounting/usage.js';

export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300];
export const TTFT_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120];
const PER_TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export type Variant = 'champion' | 'challenger' | 'shadow';
export type Attempt = 'first' | 'retry' | 'fallback';
export const TOKEN_TYPES = ['input', 'output', 'cached_input', 'cache_write', 'reasoning'] as const;
/** Why a shadow copy was not sent (label `reason` of bellwether_shadow_skipped_total). */
export const SHADOW_SKIP_REASONS = ['concurrency', 'budget'] as const;
export type ShadowSkipReason = (typeof SHADOW_SKIP_REASONS)[number];

export interface RolloutView {
  route: string;
  champion: string;
  challenger: string;
  mode: string;
  state: string;
  /** Share of traffic the challenger gets right now (0–1), after pause / staleness rules. */
  effectiveRatio: number;
}

export interface RolloutStoreView {
  /** Seconds since this replica last synced rollout state with the store (0 for the memory store). */
  ageSeconds: number;
  /** True while this replica sends everything to the champion because its state is too old. */
  stale: boolean;
}

export interface MetricsOptions {
  /** Live rollout state, read at scrape time. */
  rollouts: () => RolloutView[];
  /** Freshness of the rollout state store, read at scrape time. */
  rolloutStore?: () => RolloutStoreView;
  defaultMetrics?: boolean;
}

/**
 * Children of a labelled metric, cached by label values given in the order of `names` (one Map level
 * per label, so a lookup builds no key). Positional, not an object of labels: ten lookups per request
 * each built an object and read it back by name, megamorphic loads included (perf profile). Label
 * values are bounded (route, variant, model…), so the cache is too.
 */
export class SeriesCache<N extends readonly string[], C> {
  private readonly root = new Map<string, unknown>();

  constructor(
    private readonly names: N,
    private readonly make: (labels: Record<N[number], string>) => C,
  ) {}

  get(...values: { [K in keyof N]: string }): C {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const value = values[i] as string;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = values[last] as string;
    let child = level.get(value) as C | undefined;
    if (child === undefined) {
      if (values.length !== this.names.length) throw new Error(`expected ${this.names.length} label values (${this.names.join(', ')}), got ${values.length}`);
      const labels = {} as Record<N[number], string>;
      this.names.forEach((name: N[number], i) => (labels[name] = values[i] as string));
      child = this.make(labels);
      level.set(value, child);
    }
    return child;
  }
}

interface CounterChild {
  inc(value?: number): void;
}
interface GaugeChild extends CounterChild {
  dec(value?: number): void;
}
interface HistogramChild {
  observe(value: number): void;
}

/**
 * prom-client's per-series state, as its Counter/Gauge/Histogram keep it in `hashMap`. A child that
 * updates this object in place skips prom-client's per-call label validation, sorting and hashing —
 * about 1 µs per call, ten calls per request (bench profile). prom-client keeps a series' entry object
 * for the series' lifetime (only reset() and remove() replace it, and the hot series never see them);
 * should a future version store series differently, the lookup finds no entry and the child falls back
 * to prom-client's public API, so values stay right either way.
 */
interface SeriesEntry {
  labels: Record<string, string | number>;
  value?: number;
  bucketValues?: Record<number, number>;
  sum?: number;
  count?: number;
}

/** The series with exactly these labels; `shape` also asks that its values be where a child writes them. */
function entryOf(metric: object, labels: Record<string, string>, shape: 'value' | 'histogram' | 'any'): SeriesEntry | undefined {
  const map = (metric as { hashMap?: Record<string, SeriesEntry> }).hashMap;
  if (!map || typeof map !== 'object') return undefined;
  const names = Object.keys(labels);
  for (const entry of Object.values(map)) {
    if (!entry?.labels || Object.keys(entry.labels).length !== names.length) continue;
    if (!names.every((n) => String(entry.labels[n]) === labels[n])) continue;
    if (shape === 'any') return entry;
    const ok = shape === 'value' ? typeof entry.value === 'number' : typeof entry.sum === 'number' && typeof entry.count === 'number' && !!entry.bucketValues;
    return ok ? entry : undefined;
  }
  return undefined;
}

function counterChild<L extends string>(metric: Counter<L>, labels: Record<L, string>): CounterChild {
  metric.inc(labels, 0);
  const entry = entryOf(metric, labels, 'value');
  if (!entry) return metric.labels(labels);
  return {
    inc(value = 1) {
      if (value >= 0 && value !== Infinity) (entry.value as number) += value;
      else metric.inc(labels, value); // prom-client's own error for a negative / non-finite value
    },
  };
}

function gaugeChild<L extends string>(metric: Gauge<L>, labels: Record<L, string>): GaugeChild {
  metric.inc(labels, 0);
  const entry = entryOf(metric, labels, 'value');
  if (!entry) return metric.labels(labels);
  return {
    inc(value = 1) {
      (entry.value as number) += value;
    },
    dec(value = 1) {
      (entry.value as number) -= value;
    },
  };
}

function histogramChild<L extends string>(metric: Histogram<L>, labels: Record<L, string>, buckets: readonly number[]): HistogramChild {
  // zero() would reset a series that already has observations: only for one that doesn't exist yet.
  const entry = entryOf(metric, labels, 'histogram') ?? (metric.zero(labels), entryOf(metric, labels, 'histogram'));
  if (!entry) return metric.labels(labels);
  const bucketValues = entry.bucketValues as Record<number, number>;
  return {
    observe(value: number) {
      if (!Number.isFinite(value)) return metric.observe(labels, value); // prom-client's own error
      entry.sum = (entry.sum as number) + value;
      entry.count = (entry.count as number) + 1;
      // Same bucketing as prom-client: the first upper bound ≥ value; above them all only +Inf (count).
      for (const bound of buckets) {
        if (value <= bound) {
          bucketValues[bound] = (bucketValues[bound] ?? 0) + 1;
          break;
        }
      }
    },
  };
}

function counterCache<const N extends readonly string[]>(metric: Counter<N[number]>, names: N): SeriesCache<N, CounterChild> {
  return new SeriesCache<N, CounterChild>(names, (labels) => counterChild(metric, labels));
}

function histogramCache<const N extends readonly string[]>(metric: Histogram<N[number]>, names: N, buckets: readonly number[]): SeriesCache<N, HistogramChild> {
  return new SeriesCache<N, HistogramChild>(names, (labels) => histogramChild(metric, labels, buckets));
}

type ZeroMissing = <L extends string>(metric: Histogram<L>, labels: Record<L, string>) => void;

/**
 * Histogram.zero() for series that don't exist yet. zero() on an existing series would wipe its
 * observations (a counter reset to Prometheus). Should prom-client stop exposing its series map,
 * existing series can't be told apart: then only the start-up pass (nothing observed yet) zeroes.
 */
function zeroMissing(startUp: boolean): ZeroMissing {
  return (metric, labels) => {
    const map = (metric as { hashMap?: unknown }).hashMap;
    const readable = map !== null && typeof map === 'object';
    // At start-up nothing has been observed: zeroing is always safe, and skips a scan per series.
    if (startUp || (readable && entryOf(metric, labels, 'any') === undefined)) metric.zero(labels);
  };
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'variant' | 'model' | 'stream' | 'outcome' | 'error_class'>;
  readonly requestDuration: Histogram<'route' | 'variant' | 'model' | 'stream' | 'outcome'>;
  readonly ttft: Histogram<'route' | 'variant' | 'model'>;
  readonly timePerOutputToken: Histogram<'route' | 'variant' | 'model'>;
  readonly upstreamRequests: Counter<'route' | 'variant' | 'model' | 'provider' | 'attempt' | 'outcome' | 'error_class'>;
  readonly upstreamDuration: Histogram<'route' | 'variant' | 'model' | 'provider' | 'outcome'>;
  readonly fallbacks: Counter<'route' | 'variant' | 'from_model' | 'to_model' | 'reason'>;
  readonly tokens: Counter<'route' | 'variant' | 'model' | 'type'>;
  readonly cost: Counter<'route' | 'variant' | 'model'>;
  readonly costUnknown: Counter<'route' | 'variant' | 'model'>;
  readonly overhead: Histogram<'route' | 'stream'>;
  readonly qualityChecks: Counter<'route' | 'variant' | 'model' | 'check' | 'result'>;
  readonly feedback: Counter<'route' | 'variant' | 'rating'>;
  readonly samples: Counter<'route' | 'variant' | 'result'>;
  readonly inflight: Gauge<'route' | 'variant'>;
  readonly forcedRequests: Counter<'route' | 'variant' | 'model' | 'outcome'>;
  readonly rolloutRatio: Gauge<'route'>;
  readonly rolloutInfo: Gauge<'route' | 'champion' | 'challenger' | 'mode' | 'state'>;
  /** Cached children of the per-request series (see SeriesCache). */
  readonly hot;
  readonly circuitBreakerState: Gauge<'model'>;
  private breakerStates: () => Record<string, 'closed' | 'open' | 'half_open'> = () => ({});
  private readonly breakerModels = new Set<string>();
  readonly rolloutStateAge: Gauge;
  readonly rolloutStateStale: Gauge;
  readonly shadowSkipped: Counter<'route' | 'reason'>;

  constructor(config: Config, options: MetricsOptions) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'bellwether_requests_total',
      help: 'Client requests by assigned arm (intention to treat) and the model that answered.',
      labelNames: ['route', 'variant', 'model', 'stream', 'outcome', 'error_class'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'bellwether_request_duration_seconds',
      help: 'Time from request received to last byte sent, as the client saw it.',
      labelNames: ['route', 'variant', 'model', 'stream', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: 'bellwether_time_to_first_token_seconds',
      help: 'Time from request received to the first non-empty content or tool-call delta written to the client (streams).',
      labelNames: ['route', 'variant', 'model'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.timePerOutputToken = new Histogram({
      name: 'bellwether_time_per_output_token_seconds',
      help: 'Generation time after the first token divided by output tokens (streams).',
      labelNames: ['route', 'variant', 'model'],
      buckets: PER_TOKEN_BUCKETS,
      registers,
    });
    this.upstreamRequests = new Counter({
      name: 'bellwether_upstream_requests_total',
      help: 'Upstream attempts (first, retry, fallback) and their outcome.',
      labelNames: ['route', 'variant', 'model', 'provider', 'attempt', 'outcome', 'error_class'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'bellwether_upstream_request_duration_seconds',
      help: 'Duration of one upstream attempt, headers to last byte.',
      labelNames: ['route', 'variant', 'model', 'provider', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fallbacks = new Counter({
      name: 'bellwether_fallbacks_total',
      help: 'Requests answered by another model than the assigned one.',
      labelNames: ['route', 'variant', 'from_model', 'to_model', 'reason'],
      registers,
    });
    this.tokens = new Counter({
      name: 'bellwether_tokens_total',
      help: 'Billed tokens in disjoint buckets (output includes reasoning; reasoning is the informational subset).',
      labelNames: ['route', 'variant', 'model', 'type'],
      registers,
    });
    this.cost = new Counter({
      name: 'bellwether_cost_usd_total',
      help: 'Spend in USD over every billed attempt (retries and failed attempts included).',
      labelNames: ['route', 'variant', 'model'],
      registers,
    });
    this.costUnknown = new Counter({
      name: 'bellwether_cost_unknown_total',
      help: 'Attempts whose cost could not be computed (no usage reported, or model not priced).',
      labelNames: ['route', 'variant', 'model'],
      registers,
    });
    this.overhead = new Histogram({
      name: 'bellwether_gateway_overhead_seconds',
      help: "Gateway's own time on a request: total minus time waiting on upstream (to headers).",
      labelNames: ['route', 'stream'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.qualityChecks = new Counter({
      name: 'bellwether_quality_checks_total',
      help: 'Online quality check results per arm.',
      labelNames: ['route', 'variant', 'model', 'check', 'result'],
      registers,
    });
    this.feedback = new Counter({
      name: 'bellwether_feedback_total',
      help: 'User feedback attributed to the arm that answered.',
      labelNames: ['route', 'variant', 'rating'],
      registers,
    });
    this.samples = new Counter({
      name: 'bellwether_samples_total',
      help: 'Dataset samples stored or dropped.',
      labelNames: ['route', 'variant', 'result'],
      registers,
    });
    this.inflight = new Gauge({
      name: 'bellwether_inflight_requests',
      help: 'Requests in progress.',
      labelNames: ['route', 'variant'],
      registers,
    });
    this.forcedRequests = new Counter({
      name: 'bellwether_forced_requests_total',
      help: 'Requests with a forced variant (x-bellwether-variant); excluded from the rollout series above.',
      labelNames: ['route', 'variant', 'model', 'outcome'],
      registers,
    });
    const rollouts = options.rollouts;
    this.rolloutRatio = new Gauge({
      name: 'bellwether_rollout_challenger_ratio',
      help: 'Share of traffic assigned to the challenger right now (0-1): 0 while paused, rolled back, stale, or in shadow mode (copies are not assignments).',
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const r of rollouts()) this.set({ route: r.route }, r.effectiveRatio);
      },
    });
    this.rolloutInfo = new Gauge({
      name: 'bellwether_rollout_info',
      help: 'Current rollout of each route (value is always 1).',
      labelNames: ['route', 'champion', 'challenger', 'mode', 'state'],
      registers,
      collect() {
        this.reset();
        for (const r of rollouts()) {
          this.set({ route: r.route, champion: r.champion, challenger: r.challenger, mode: r.mode, state: r.state }, 1);
        }
      },
    });
    const store = options.rolloutStore ?? (() => ({ ageSeconds: 0, stale: false }));
    this.rolloutStateAge = new Gauge({
      name: 'bellwether_rollout_state_age_seconds',
      help: 'Seconds since this replica last synced rollout state with the state store (bounds propagation lag).',
      registers,
      collect() {
        this.set(store().ageSeconds);
      },
    });
    this.rolloutStateStale = new Gauge({
      name: 'bellwether_rollout_state_stale',
      help: '1 while rollout state is older than state.staleAfterSeconds and all traffic goes to the champion.',
      registers,
      collect() {
        this.set(store().stale ? 1 : 0);
      },
    });
    this.shadowSkipped = new Counter({
      name: 'bellwether_shadow_skipped_total',
      help: 'Shadow calls not made because the route hit its shadow budget (reason: concurrency|budget).',
      labelNames: ['route', 'reason'],
      registers,
    });
    const breakerStates = () => this.breakerStates();
    const breakerModels = () => this.breakerModels;
    this.circuitBreakerState = new Gauge({
      name: 'bellwether_circuit_breaker_state',
      help: 'Circuit breaker state per model: 0 closed, 1 half-open, 2 open (open: its traffic goes to the champion).',
      labelNames: ['model'],
      registers,
      collect() {
        const states = breakerStates();
        for (const model of new Set([...breakerModels(), ...Object.keys(states)])) {
          const state = states[model] ?? 'closed';
          this.set({ model }, state === 'open' ? 2 : state === 'half_open' ? 1 : 0);
        }
      },
    });
    this.hot = {
      requests: counterCache(this.requests, ['route', 'variant', 'model', 'stream', 'outcome', 'error_class']),
      requestDuration: histogramCache(this.requestDuration, ['route', 'variant', 'model', 'stream', 'outcome'], LATENCY_BUCKETS),
      ttft: histogramCache(this.ttft, ['route', 'variant', 'model'], TTFT_BUCKETS),
      timePerOutputToken: histogramCache(this.timePerOutputToken, ['route', 'variant', 'model'], PER_TOKEN_BUCKETS),
      upstreamRequests: counterCache(this.upstreamRequests, ['route', 'variant', 'model', 'provider', 'attempt', 'outcome', 'error_class']),
      upstreamDuration: histogramCache(this.upstreamDuration, ['route', 'variant', 'model', 'provider', 'outcome'], LATENCY_BUCKETS),
      tokens: counterCache(this.tokens, ['route', 'variant', 'model', 'type']),
      cost: counterCache(this.cost, ['route', 'variant', 'model']),
      costUnknown: counterCache(this.costUnknown, ['route', 'variant', 'model']),
      overhead: histogramCache(this.overhead, ['route', 'stream'], OVERHEAD_BUCKETS),
      inflight: new SeriesCache(['route', 'variant'] as const, (labels) => gaugeChild(this.inflight, labels)),
    };
    this.reconfigure(config, true);
  }

  /**
   * Creates at 0 every series of the config's routes that doesn't exist yet: at start-up, and again on
   * a config reload, so a route, challenger or check it adds is on /metrics before its first request.
   * Never touches a series that exists: counters and histograms must not go back to 0 on a reload.
   */
  reconfigure(config: Config, startUp = false): void {
    for (const route of Object.values(config.routes)) {
      if (route.challenger && route.fallback === 'champion') this.breakerModels.add(route.challenger);
    }
    this.preinitialise(config, startUp);
  }

  /** The gateway's circuit breakers, read at scrape time. */
  watchCircuitBreakers(states: () => Record<string, 'closed' | 'open' | 'half_open'>): void {
    this.breakerStates = states;
  }

  private preinitialise(config: Config, startUp: boolean): void {
    const zero = zeroMissing(startUp);
    for (const route of Object.values(config.routes)) {
      const models = [route.champion, ...(route.challenger ? [route.challenger] : [])];
      const variants: Variant[] = route.challenger ? ['champion', 'challenger'] : ['champion'];
      for (const variant of variants) {
        this.inflight.inc({ route: route.name, variant }, 0);
        this.feedback.inc({ route: route.name, variant, rating: 'positive' }, 0);
        this.feedback.inc({ route: route.name, variant, rating: 'negative' }, 0);
        for (const result of ['stored', 'dropped'] as const) this.samples.inc({ route: route.name, variant, result }, 0);
        for (const model of models) this.preinitArm(zero, route.name, variant, model, config.models[model]?.provider ?? 'unknown', route.checks.map((c) => c.spec.name));
      }
      if (route.challenger) {
        const challenger = route.challenger;
        this.preinitArm(zero, route.name, 'shadow', challenger, config.models[challenger]?.provider ?? 'unknown', route.checks.map((c) => c.spec.name));
        this.fallbacks.inc({ route: route.name, variant: 'challenger', from_model: challenger, to_model: route.champion, reason: 'error' }, 0);
        this.fallbacks.inc({ route: route.name, variant: 'challenger', from_model: challenger, to_model: route.champion, reason: 'circuit_open' }, 0);
        for (const reason of SHADOW_SKIP_REASONS) this.shadowSkipped.inc({ route: route.name, reason }, 0);
      }
      for (const stream of ['true', 'false']) zero(this.overhead, { route: route.name, stream });
    }
  }

  private preinitArm(zero: ZeroMissing, route: string, variant: Variant, model: string, provider: string, checks: string[]): void {
    for (const stream of ['true', 'false']) {
      for (const errorClass of ERROR_CLASSES) {
        const outcome = errorClass === 'none' ? 'success' : 'error';
        this.requests.inc({ route, variant, model, stream, outcome, error_class: errorClass }, 0);
      }
      for (const outcome of ['success', 'error']) zero(this.requestDuration, { route, variant, model, stream, outcome });
    }
    zero(this.ttft, { route, variant, model });
    zero(this.timePerOutputToken, { route, variant, model });
    for (const attempt of ['first', 'retry', 'fallback'] as const) {
      this.upstreamRequests.inc({ route, variant, model, provider, attempt, outcome: 'success', error_class: 'none' }, 0);
    }
    for (const outcome of ['success', 'error']) zero(this.upstreamDuration, { route, variant, model, provider, outcome });
    for (const type of TOKEN_TYPES) this.tokens.inc({ route, variant, model, type }, 0);
    this.cost.inc({ route, variant, model }, 0);
    this.costUnknown.inc({ route, variant, model }, 0);
    for (const check of checks) {
      for (const result of ['pass', 'fail', 'error']) this.qualityChecks.inc({ route, variant, model, check, result }, 0);
    }
  }

  addUsage(route: string, variant: Variant, model: string, usage: Usage): void {
    if (usage.input) this.hot.tokens.get(route, variant, model, 'input').inc(usage.input);
    if (usage.output) this.hot.tokens.get(route, variant, model, 'output').inc(usage.output);
    if (usage.cachedInput) this.hot.tokens.get(route, variant, model, 'cached_input').inc(usage.cachedInput);
    if (usage.cacheWrite) this.hot.tokens.get(route, variant, model, 'cache_write').inc(usage.cacheWrite);
    if (usage.reasoning) this.hot.tokens.get(route, variant, model, 'reasoning').inc(usage.reasoning);
  }
}
