import * as assert from 'assert';
import { BrownianNoise } from '../../../server/src/render/pipeline/samplers/brownianTree';
import { createSampler, NoiseSchedule } from '../../../server/src/render/pipeline/schedulers';

/*
 * The SDE samplers' noise is a Brownian motion over sigma (not torchsde's bit for bit; see
 * docs/rendering.md "Samplers"): normalized increments are N(0, 1), increments over disjoint
 * intervals are independent, an interval's increment is the sum of its parts whichever way it is
 * cut, and the image seed fixes it.
 */

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return s / a.length;
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = mean(a);
  const mb = mean(b);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - ma) * (b[i] - mb);
  return s / a.length / Math.sqrt(variance(a) * variance(b));
}

describe('Brownian noise of the SDE samplers', () => {
  const size = 200000;

  it('a normalized increment is N(0, 1): mean within 0.01, variance within 0.02 of 1, for a wide and a narrow interval', () => {
    for (const [a, b] of [
      [14.6, 7],
      [0.05, 0.03],
    ]) {
      const n = new BrownianNoise(size, 0.0292, 14.6146, 1234).noise(a, b);
      assert.ok(Math.abs(mean(n)) < 0.01, `mean ${mean(n)}`);
      assert.ok(Math.abs(variance(n) - 1) < 0.02, `variance ${variance(n)}`);
    }
  });

  it('increments add up: W(σ₀→σ₂) = W(σ₀→σ₁) + W(σ₁→σ₂) (DPM++ SDE queries a half step, then the whole step)', () => {
    const tree = new BrownianNoise(1000, 0.03, 14.6, 7);
    const whole = tree.noise(5, 1); // normalized by sqrt(4)
    const first = tree.noise(5, 3).map((v) => v * Math.sqrt(2));
    const second = tree.noise(3, 1).map((v) => v * Math.sqrt(2));
    for (let k = 0; k < 1000; k++) assert.ok(Math.abs(whole[k] * 2 - (first[k] + second[k])) < 1e-4, `element ${k}`);
  });

  it('disjoint intervals are independent (|correlation| < 0.01) and a step and its half share half their variance', () => {
    const tree = new BrownianNoise(size, 0.03, 14.6, 99);
    const a = tree.noise(10, 8);
    const b = tree.noise(8, 6);
    assert.ok(Math.abs(correlation(a, b)) < 0.01, `corr ${correlation(a, b)}`);
    const tree2 = new BrownianNoise(size, 0.03, 14.6, 99);
    const half = tree2.noise(10, 9);
    const whole = tree2.noise(10, 8);
    // Cov(W(1)/1, W(2)/sqrt 2) = 1/sqrt 2.
    assert.ok(Math.abs(correlation(half, whole) - Math.SQRT1_2) < 0.01, `corr ${correlation(half, whole)}`);
  });

  it('the same seed gives the same noise; another seed other noise', () => {
    const a = new BrownianNoise(64, 0.03, 14.6, 5).noise(14.6, 10);
    const b = new BrownianNoise(64, 0.03, 14.6, 5).noise(14.6, 10);
    const c = new BrownianNoise(64, 0.03, 14.6, 6).noise(14.6, 10);
    assert.deepStrictEqual(a, b);
    assert.ok(correlation(a, c) < 0.5);
  });

  it('an empty interval is an error, not NaN noise', () => {
    assert.throws(() => new BrownianNoise(4, 1, 1, 0), /sigma_min < sigma_max/);
  });

  it('a one-step SDE render (sigmas σ_max, 0) needs no noise and finishes', async () => {
    const sd = NoiseSchedule.fromConfig({});
    for (const kind of ['dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_3m_sde'] as const) {
      const s = createSampler(kind, 1, 'automatic', sd);
      const out = await s.sample(new Float32Array(8).fill(s.initNoiseSigma), { unet: async (input) => ({ guided: input.map((v) => 0.2 * v), uncond: input }), randn: () => {}, seed: 1 });
      assert.ok(out.every(Number.isFinite), kind);
    }
  });

  it('DPM++ SDE Karras: the same seed renders the same latent, another seed a different one', async () => {
    const sd = NoiseSchedule.fromConfig({});
    const render = (seed: number) => {
      const s = createSampler('dpmpp_sde', 6, 'automatic', sd);
      const x = new Float32Array(256).fill(s.initNoiseSigma * 0.3);
      return s.sample(x, { unet: async (input) => ({ guided: input.map((v) => 0.2 * v), uncond: input }), randn: () => assert.fail('DPM++ SDE draws from its Brownian tree'), seed });
    };
    const [a, b, c] = [await render(11), await render(11), await render(12)];
    assert.deepStrictEqual(a, b);
    assert.ok(a.some((v, k) => Math.abs(v - c[k]) > 1e-3));
  });
});
