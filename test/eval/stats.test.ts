import t, { type Test } from 'tap';
import {
  wilson, mcnemarExact, signTest, pairedBootstrapCI, nonInferiority, pairedPower,
  minimumDetectableDifference, cohensKappa, percentile, normalQuantile, normalCdf, binomialTwoSidedHalf,
  pairedDifferenceCI,
} from '../../src/eval/stats.js';

const close = (t: Test, actual: number, expected: number, tol: number, msg: string): void => {
  t.ok(Math.abs(actual - expected) <= tol, `${msg}: ${actual} ≈ ${expected}`);
};

t.test('normal distribution helpers', (t) => {
  close(t, normalQuantile(0.975), 1.959964, 1e-6, 'z 0.975');
  close(t, normalQuantile(0.8), 0.841621, 1e-6, 'z 0.8');
  close(t, normalQuantile(0.001), -3.090232, 1e-6, 'z 0.001 (tail branch)');
  close(t, normalCdf(1.959964), 0.975, 1e-6, 'Φ(1.96)');
  close(t, normalCdf(-1), 0.158655, 1e-6, 'Φ(-1)');
  t.throws(() => normalQuantile(1));
  t.end();
});

t.test('Wilson interval matches published values', (t) => {
  const w = wilson(8, 10);
  close(t, w.low, 0.4902, 1e-4, 'low 8/10');
  close(t, w.high, 0.9433, 1e-4, 'high 8/10');
  const zero = wilson(0, 20);
  t.equal(zero.low, 0);
  close(t, zero.high, 0.1611, 1e-4, 'high 0/20');
  const all = wilson(20, 20);
  t.equal(all.high, 1);
  t.ok(Number.isNaN(wilson(0, 0).rate), 'no data is NaN, not 0');
  t.end();
});

t.test('exact McNemar and sign test', (t) => {
  close(t, mcnemarExact(1, 9).pValue, 0.021484375, 1e-12, 'b=1 c=9');
  close(t, mcnemarExact(9, 1).pValue, 0.021484375, 1e-12, 'symmetric');
  t.equal(mcnemarExact(0, 0).pValue, 1, 'no discordant pairs: p = 1');
  t.equal(mcnemarExact(5, 5).pValue, 1, 'balanced: capped at 1');
  close(t, signTest(15, 5).pValue, 0.04138947, 1e-7, 'sign test 15 vs 5');
  // large n stays finite (log-space binomial)
  const big = binomialTwoSidedHalf(900, 2000);
  t.ok(big > 0 && big < 1e-5, `large n p=${big}`);
  t.end();
});

t.test('paired bootstrap is reproducible and sensible', (t) => {
  const deltas = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? -0.5 : 0.1));
  const a = pairedBootstrapCI(deltas, { seed: 7 });
  const b = pairedBootstrapCI(deltas, { seed: 7 });
  t.same(a, b, 'same seed, same interval');
  const c = pairedBootstrapCI(deltas, { seed: 8 });
  t.not(a.low, c.low, 'different seed, different draws');
  close(t, a.mean, -0.05, 1e-12, 'mean delta');
  t.ok(a.low < a.mean && a.mean < a.high, 'CI brackets the mean');
  const flat = pairedBootstrapCI([0.2, 0.2, 0.2]);
  close(t, flat.low, 0.2, 1e-12, 'constant deltas: degenerate CI');
  t.ok(Number.isNaN(pairedBootstrapCI([]).mean));
  t.end();
});

t.test('non-inferiority decision', (t) => {
  t.equal(nonInferiority({ low: -0.02, high: 0.03 }, 0.05), 'non-inferior');
  t.equal(nonInferiority({ low: -0.12, high: -0.07 }, 0.05), 'inferior');
  t.equal(nonInferiority({ low: -0.08, high: 0.01 }, 0.05), 'inconclusive');
  t.equal(nonInferiority({ low: Number.NaN, high: Number.NaN }, 0.05), 'inconclusive');
  t.end();
});

t.test('power and minimum detectable difference', (t) => {
  // NOTES.md: at 300 cases a 5-point drop is detected only about two times in three.
  const p = pairedPower(300, 0.05, 0.13);
  t.ok(p > 0.6 && p < 0.72, `power at n=300, δ=5pt: ${p}`);
  const mdd = minimumDetectableDifference(300, 0.13);
  t.ok(mdd > 0.05 && mdd < 0.07, `MDD at n=300: ${mdd}`);
  close(t, pairedPower(300, mdd, 0.13), 0.8, 1e-6, 'MDD reaches the requested power');
  t.ok(minimumDetectableDifference(3000, 0.13) < mdd, 'more cases, smaller MDD');
  t.ok(Number.isNaN(minimumDetectableDifference(5, 0.1)), 'too few cases: no detectable difference');
  t.end();
});

t.test("Cohen's kappa", (t) => {
  // Textbook example (Wikipedia): 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → κ = 0.4
  const a = [...Array(25).fill('yes'), ...Array(25).fill('no')] as string[];
  const b = [...Array(20).fill('yes'), ...Array(5).fill('no'), ...Array(10).fill('yes'), ...Array(15).fill('no')] as string[];
  const k = cohensKappa(a, b);
  close(t, k.kappa, 0.4, 1e-12, 'kappa');
  close(t, k.observed, 0.7, 1e-12, 'observed agreement');
  t.equal(cohensKappa(['x', 'x'], ['x', 'x']).kappa, 1, 'single shared label');
  t.throws(() => cohensKappa(['a'], []));
  t.end();
});

t.test('percentiles', (t) => {
  t.equal(percentile([4, 1, 3, 2], 50), 2.5);
  close(t, percentile([1, 2, 3, 4], 95), 3.85, 1e-12, 'p95');
  t.equal(percentile([7], 95), 7);
  t.ok(Number.isNaN(percentile([], 50)));
  t.end();
});

t.test('paired difference of pass rates: Newcombe square-and-add interval', (t) => {
  // Published example (Fagerland, Lydersen & Laake, ch. 8; Cavo et al. 2012): both 59, first only 6,
  // second only 16, neither 80 → −0.0621, 95 % CI −0.1186 to −0.0046.
  const ci = pairedDifferenceCI({ both: 59, firstOnly: 6, secondOnly: 16, neither: 80 }, 0.95);
  close(t, ci.mean, -0.0621, 1e-4, 'estimate');
  close(t, ci.low, -0.1186, 1e-4, 'low');
  close(t, ci.high, -0.0046, 1e-4, 'high');
  // No discordant pairs is not certainty: with 3 cases a large drop cannot be ruled out, while
  // the bootstrap of three identical deltas collapses to [0, 0].
  const three = pairedDifferenceCI({ both: 3, firstOnly: 0, secondOnly: 0, neither: 0 }, 0.9);
  t.equal(three.mean, 0);
  t.ok(three.low < -0.2, `3 cases, none discordant: low ${three.low} is far below 0`);
  const boot = pairedBootstrapCI([0, 0, 0], { level: 0.9 });
  t.equal(boot.low, 0, 'the bootstrap has no width here, which is why it must not decide');
  const many = pairedDifferenceCI({ both: 400, firstOnly: 0, secondOnly: 0, neither: 0 }, 0.9);
  t.ok(many.low > -0.05 && many.high < 0.05, 'many agreeing cases narrow it');
  t.ok(Number.isNaN(pairedDifferenceCI({ both: 0, firstOnly: 0, secondOnly: 0, neither: 0 }).low), 'no data is NaN');
  t.end();
});
