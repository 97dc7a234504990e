/**
 * k-diffusion `sample_lms` (order 4): a linear multistep method in sigma whose coefficients are
 * the integrals of the Lagrange basis over [sigma_i, sigma_i+1]. k-diffusion integrates with
 * scipy's `quad`; the integrands are polynomials of degree ≤ 3, which 4-point Gauss–Legendre
 * integrates exactly, so the coefficients agree to rounding.
 */
import type { Denoiser } from './denoiser';
import { KDiffusionSampler } from './kSampler';
import { SampleContext, toD } from './types';

const ORDER = 4;
const GAUSS_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GAUSS_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/** k-diffusion `linear_multistep_coeff(order, t, i, j)`. */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new RangeError(`Order ${order} too high for step ${i}`);
  const basis = (tau: number) => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (j === k) continue;
      prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
    }
    return prod;
  };
  const a = t[i];
  const b = t[i + 1];
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let q = 0; q < GAUSS_NODES.length; q++) sum += GAUSS_WEIGHTS[q] * basis(mid + half * GAUSS_NODES[q]);
  return sum * half;
}

export class LmsSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const ds: Float32Array[] = [];
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      ds.push(toD(x, s[i], denoised));
      if (ds.length > ORDER) ds.shift();
      const order = Math.min(i + 1, ORDER);
      // zip(coeffs, reversed(ds)): coefficient j goes with the j-th most recent derivative.
      for (let j = 0; j < order; j++) {
        const c = linearMultistepCoeff(order, s, i, j);
        const d = ds[ds.length - 1 - j];
        for (let k = 0; k < x.length; k++) x[k] += c * d[k];
      }
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}
