/**
 * Statistics for offline evaluation. Pure functions, no I/O, no dependencies.
 *
 * Everything here is about *paired* comparisons: both models answer the same cases, so the
 * tests work on per-case differences (McNemar, sign test, paired bootstrap) rather than
 * comparing two independent samples, which would waste most of the statistical power.
 */

export interface Interval {
  low: number;
  high: number;
}

/** Standard normal CDF via the Abramowitz–Stegun 7.1.26 erf approximation (|error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - pLow) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/**
 * Wilson score interval for a binomial proportion. Preferred over the textbook
 * (Wald) interval because it stays inside [0, 1] and behaves at 0/n and n/n, which is
 * exactly where eval pass rates tend to sit.
 */
export function wilson(successes: number, n: number, level = 0.95): Interval & { rate: number } {
  if (n === 0) return { rate: Number.NaN, low: 0, high: 1 };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * Exact two-sided binomial test of k successes in n trials against p = 0.5
 * (doubling the smaller tail, capped at 1). Computed in log space so n in the thousands is fine.
 */
export function binomialTwoSidedHalf(k: number, n: number): number {
  if (n === 0) return 1;
  const small = Math.min(k, n - k);
  let tail = 0;
  let logCoef = 0; // log C(n, 0)
  for (let i = 0; i <= small; i++) {
    if (i > 0) logCoef += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logCoef - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

/**
 * Exact McNemar test. b = cases only the first model passes, c = cases only the second passes;
 * concordant pairs carry no information about which model is better and are ignored.
 */
export function mcnemarExact(b: number, c: number): { b: number; c: number; pValue: number } {
  return { b, c, pValue: binomialTwoSidedHalf(b, b + c) };
}

/** Sign test for pairwise preferences: ties are dropped, as is standard. */
export function signTest(wins: number, losses: number): { wins: number; losses: number; pValue: number } {
  return { wins, losses, pValue: binomialTwoSidedHalf(wins, wins + losses) };
}

/** mulberry32: tiny seeded PRNG so bootstraps and blind-review shuffles are reproducible. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Linear-interpolation percentile (the "type 7" definition used by numpy and spreadsheets).
 * p is in [0, 100]. Empty input gives NaN rather than a made-up number.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const vLo = sorted[lo] as number;
  const vHi = sorted[hi] as number;
  return vLo + (vHi - vLo) * (rank - lo);
}

export interface BootstrapOptions {
  iterations?: number;
  level?: number;
  seed?: number;
}

/**
 * Percentile bootstrap CI of the mean of paired differences (one difference per case).
 * Resampling cases keeps each pair together, which is what makes it "paired".
 */
export function pairedBootstrapCI(
  deltas: readonly number[],
  opts: BootstrapOptions = {},
): Interval & { mean: number; iterations: number; level: number; seed: number } {
  const iterations = opts.iterations ?? 2000;
  const level = opts.level ?? 0.95;
  const seed = opts.seed ?? 42;
  const n = deltas.length;
  if (n === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, iterations, level, seed };
  const rand = seededRandom(seed);
  const means = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += deltas[Math.floor(rand() * n)] as number;
    means[i] = sum / n;
  }
  const sorted = Array.from(means);
  const tail = ((1 - level) / 2) * 100;
  return {
    mean: mean(deltas),
    low: percentile(sorted, tail),
    high: percentile(sorted, 100 - tail),
    iterations,
    level,
    seed,
  };
}

/** A paired 2×2 table: both pass, only the first passes, only the second passes, neither. */
export interface PairedTable {
  both: number;
  firstOnly: number;
  secondOnly: number;
  neither: number;
}

/**
 * CI of the difference of paired pass rates (first − second): Newcombe's square-and-add interval
 * (1998, method 10), built from the Wilson intervals of both rates and their correlation. Used for
 * the non-inferiority decision instead of the bootstrap, which collapses to [0, 0] when no pair is
 * discordant — three cases that both pass would otherwise "prove" non-inferiority. This interval
 * stays wide at small n and narrows as agreeing cases accumulate.
 */
export function pairedDifferenceCI(t: PairedTable, level = 0.95): Interval & { mean: number; level: number } {
  const n = t.both + t.firstOnly + t.secondOnly + t.neither;
  if (n === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, level };
  const first = t.both + t.firstOnly;
  const second = t.both + t.secondOnly;
  const p1 = first / n;
  const p2 = second / n;
  const w1 = wilson(first, n, level);
  const w2 = wilson(second, n, level);
  // Correlation of the two rates, with Newcombe's continuity correction on the positive side.
  let phi = 0;
  const margins = first * (n - first) * second * (n - second);
  if (margins > 0) {
    const a = t.both * t.neither - t.firstOnly * t.secondOnly;
    phi = (a > n / 2 ? a - n / 2 : a < 0 ? a : 0) / Math.sqrt(margins);
  }
  const sqAdd = (x: number, y: number) => Math.sqrt(Math.max(0, x * x + y * y - 2 * phi * x * y));
  const mean = p1 - p2;
  return {
    mean,
    low: Math.max(-1, mean - sqAdd(p1 - w1.low, w2.high - p2)),
    high: Math.min(1, mean + sqAdd(p2 - w2.low, w1.high - p1)),
    level,
  };
}

export type NonInferiority = 'non-inferior' | 'inferior' | 'inconclusive';

/**
 * Non-inferiority of a challenger at a margin, from a CI on (challenger − champion).
 * The challenger is non-inferior when the whole interval lies above −margin, inferior when the
 * whole interval lies below it; otherwise the data cannot tell. For a one-sided test at alpha,
 * pass a two-sided CI at level 1 − 2·alpha.
 */
export function nonInferiority(ci: Interval, margin: number): NonInferiority {
  if (Number.isNaN(ci.low) || Number.isNaN(ci.high)) return 'inconclusive';
  if (ci.low > -margin) return 'non-inferior';
  if (ci.high < -margin) return 'inferior';
  return 'inconclusive';
}

/**
 * Power of a two-sided McNemar test to detect a pass-rate difference `delta` over n paired cases
 * when a fraction `discordant` of cases are discordant (pass for one model only). Normal
 * approximation (Connor 1987): power = Φ((|δ|·√n − z₁₋α/₂·√ψ) / √(ψ − δ²)).
 * With ψ ≈ 0.13 this gives ~0.67 for a 5-point drop at 300 cases — "two times in three".
 */
export function pairedPower(n: number, delta: number, discordant: number, alpha = 0.05): number {
  const d = Math.abs(delta);
  if (n <= 0 || discordant <= 0) return d === 0 ? alpha : Number.NaN;
  const psi = Math.max(discordant, d); // a difference can't exceed the discordant share
  const zA = normalQuantile(1 - alpha / 2);
  const spread = Math.sqrt(Math.max(psi - d * d, 1e-12));
  return normalCdf((d * Math.sqrt(n) - zA * Math.sqrt(psi)) / spread);
}

/**
 * Minimum detectable difference in pass rate for a paired comparison: the smallest |δ| that the
 * McNemar test would detect with the given power. Solved by bisection on pairedPower, which is
 * monotone in δ on (0, ψ]. Returns NaN when no δ ≤ ψ reaches the power (too few cases).
 */
export function minimumDetectableDifference(
  n: number,
  discordant: number,
  alpha = 0.05,
  power = 0.8,
): number {
  if (n <= 0 || discordant <= 0) return Number.NaN;
  if (pairedPower(n, discordant, discordant, alpha) < power) return Number.NaN;
  let lo = 0;
  let hi = discordant;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (pairedPower(n, mid, discordant, alpha) >= power) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Paired cases needed for the McNemar test to detect a pass-rate difference `delta` with the given
 * power: pairedPower solved for n, ⌈((z₁₋α/₂·√ψ + z_power·√(ψ − δ²)) / δ)²⌉. NaN when it cannot be
 * said (no difference, or no estimate of the discordant share).
 */
export function casesToDetect(delta: number, discordant: number, alpha = 0.05, power = 0.8): number {
  const d = Math.abs(delta);
  if (!(d > 0) || !(discordant > 0)) return Number.NaN;
  const psi = Math.max(discordant, d);
  const root = (normalQuantile(1 - alpha / 2) * Math.sqrt(psi) + normalQuantile(power) * Math.sqrt(Math.max(psi - d * d, 0))) / d;
  return Math.ceil(root * root);
}

/**
 * Cohen's kappa for two raters labelling the same items with categorical labels: agreement
 * corrected for the agreement expected by chance from each rater's label frequencies.
 */
export function cohensKappa(a: readonly string[], b: readonly string[]): { kappa: number; observed: number; expected: number; n: number } {
  if (a.length !== b.length) throw new RangeError('cohensKappa: raters must label the same items');
  const n = a.length;
  if (n === 0) return { kappa: Number.NaN, observed: Number.NaN, expected: Number.NaN, n };
  const countA = new Map<string, number>();
  const countB = new Map<string, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) agree++;
    countA.set(x, (countA.get(x) ?? 0) + 1);
    countB.set(y, (countB.get(y) ?? 0) + 1);
  }
  const observed = agree / n;
  let expected = 0;
  for (const [label, ca] of countA) expected += (ca / n) * ((countB.get(label) ?? 0) / n);
  // Both raters used one identical label throughout: perfect agreement, kappa defined as 1.
  const kappa = expected === 1 ? 1 : (observed - expected) / (1 - expected);
  return { kappa, observed, expected, n };
}
