/**
 * k-diffusion's `DPMSolver` (Lu et al. 2022, eps form in t = −log σ): "DPM fast" (fixed steps of
 * order 3, 2, 1 spending exactly `n` model calls) and "DPM adaptive" (orders 2/3 with a PID step
 * size controller, as many calls as the error tolerance needs). Both integrate between the
 * model's own sigma_min and sigma_max (A1111 passes them, not the schedule) and end at sigma_min,
 * not at 0, as in A1111. A1111 runs both with its "Eta" (default 1), so both add noise.
 */
import type { Denoiser } from './denoiser';
import { KDiffusionSampler } from './kSampler';
import { linspace } from './linspace';
import { ancestralStep, lincomb, RandnFill, SampleContext } from './types';

const sigmaOf = (t: number) => Math.exp(-t);
const tOf = (sigma: number) => -Math.log(sigma);

type EpsCache = Map<string, Float32Array>;

/** The solver's steps over a denoiser, with the per-step eps cache k-diffusion keeps. */
class DpmSolverCore {
  constructor(private readonly model: Denoiser) {}

  async eps(cache: EpsCache, key: string, x: Float32Array, t: number): Promise<Float32Array> {
    const hit = cache.get(key);
    if (hit) return hit;
    const sigma = sigmaOf(t);
    const denoised = await this.model(x, sigma);
    const eps = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) eps[k] = (x[k] - denoised[k]) / sigma;
    cache.set(key, eps);
    return eps;
  }

  async step1(x: Float32Array, t: number, tNext: number, cache: EpsCache): Promise<Float32Array> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    return lincomb(1, x, -sigmaOf(tNext) * Math.expm1(h), eps);
  }

  async step2(x: Float32Array, t: number, tNext: number, cache: EpsCache, r1 = 1 / 2): Promise<Float32Array> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    const s1 = t + r1 * h;
    const u1 = lincomb(1, x, -sigmaOf(s1) * Math.expm1(r1 * h), eps);
    const epsR1 = await this.eps(cache, 'eps_r1', u1, s1);
    const a = sigmaOf(tNext) * Math.expm1(h);
    const b = (sigmaOf(tNext) / (2 * r1)) * Math.expm1(h);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - a * eps[k] - b * (epsR1[k] - eps[k]);
    return out;
  }

  async step3(x: Float32Array, t: number, tNext: number, cache: EpsCache, r1 = 1 / 3, r2 = 2 / 3): Promise<Float32Array> {
    const h = tNext - t;
    const eps = await this.eps(cache, 'eps', x, t);
    const s1 = t + r1 * h;
    const s2 = t + r2 * h;
    const u1 = lincomb(1, x, -sigmaOf(s1) * Math.expm1(r1 * h), eps);
    const epsR1 = await this.eps(cache, 'eps_r1', u1, s1);
    const c1 = sigmaOf(s2) * Math.expm1(r2 * h);
    const c2 = sigmaOf(s2) * (r2 / r1) * (Math.expm1(r2 * h) / (r2 * h) - 1);
    const u2 = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) u2[k] = x[k] - c1 * eps[k] - c2 * (epsR1[k] - eps[k]);
    const epsR2 = await this.eps(cache, 'eps_r2', u2, s2);
    const a = sigmaOf(tNext) * Math.expm1(h);
    const b = (sigmaOf(tNext) / r2) * (Math.expm1(h) / h - 1);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - a * eps[k] - b * (epsR2[k] - eps[k]);
    return out;
  }
}

/** k-diffusion's default noise sampler: a fresh draw, made even when its weight is 0 (as k-diffusion does). */
function addDrawn(x: Float32Array, scale: number, randn: RandnFill): Float32Array {
  const z = new Float32Array(x.length);
  randn(z);
  for (let k = 0; k < x.length; k++) x[k] += scale * z[k];
  return x;
}

/** `sample_dpm_fast(model, x, sigma_min, sigma_max, n=steps, eta, s_noise)`. */
export class DpmFastSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    const { modelSigmaMin, modelSigmaMax } = this.setup;
    const { eta, sNoise } = this.options;
    const nfe = this.sigmas.length - 1;
    const solver = new DpmSolverCore(model);
    const tStart = tOf(modelSigmaMax);
    const tEnd = tOf(modelSigmaMin);
    const m = Math.floor(nfe / 3) + 1;
    const ts = linspace(tStart, tEnd, m + 1);
    const orders: number[] = [];
    if (nfe % 3 === 0) {
      for (let i = 0; i < m - 2; i++) orders.push(3);
      orders.push(2, 1);
    } else {
      for (let i = 0; i < m - 1; i++) orders.push(3);
      orders.push(nfe % 3);
    }
    for (let i = 0; i < orders.length; i++) {
      const cache: EpsCache = new Map();
      const t = ts[i];
      const tNext = ts[i + 1];
      let tNext_ = tNext;
      let su = 0;
      if (eta) {
        const { sigmaDown } = ancestralStep(sigmaOf(t), sigmaOf(tNext), eta);
        tNext_ = Math.min(tEnd, tOf(sigmaDown));
        su = Math.sqrt(Math.max(sigmaOf(tNext) ** 2 - sigmaOf(tNext_) ** 2, 0));
      }
      const eps = await solver.eps(cache, 'eps', x, t);
      const denoised = lincomb(1, x, -sigmaOf(t), eps);
      if (orders[i] === 1) x = await solver.step1(x, t, tNext_, cache);
      else if (orders[i] === 2) x = await solver.step2(x, t, tNext_, cache);
      else x = await solver.step3(x, t, tNext_, cache);
      addDrawn(x, su * sNoise, context.randn);
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/**
 * k-diffusion's `PIDStepSizeController` with the coefficients `sample_dpm_adaptive` uses (pcoeff 0,
 * icoeff 1, dcoeff 0; A1111 passes no others): its error-history terms have exponents −0 and 0, so
 * the factor is (1/error)^(1/order) through the limiter 1 + atan(f − 1), bit for bit, and no
 * history is kept.
 */
class IntegralStepSizeController {
  constructor(
    public h: number,
    private readonly order: number,
    private readonly acceptSafety: number,
    private readonly eps = 1e-8,
  ) {}

  proposeStep(error: number): boolean {
    const factor = 1 + Math.atan((1 / (error + this.eps)) ** (1 / this.order) - 1);
    this.h *= factor;
    return factor >= this.acceptSafety;
  }
}

/** Attempts after which DPM adaptive gives up: a guard against a model that never meets the tolerance. */
const MAX_ADAPTIVE_ATTEMPTS = 10000;

/**
 * `sample_dpm_adaptive` with k-diffusion's defaults (order 3, rtol 0.05, atol 0.0078, h_init
 * 0.05, pcoeff 0, icoeff 1, dcoeff 0, accept_safety 0.81). `steps` counts attempts as k-diffusion's
 * callback does; how many there are is known only at the end.
 */
export class DpmAdaptiveSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    const { modelSigmaMin, modelSigmaMax } = this.setup;
    // A1111 passes no s_noise to sample_dpm_adaptive (its default 1).
    const { eta } = this.options;
    const order = 3;
    const rtol = 0.05;
    const atol = 0.0078;
    const solver = new DpmSolverCore(model);
    const tStart = tOf(modelSigmaMax);
    const tEnd = tOf(modelSigmaMin);
    let s = tStart;
    let xPrev = x;
    const pid = new IntegralStepSizeController(0.05, eta ? 1.5 : order, 0.81);
    let attempts = 0;
    while (s < tEnd - 1e-5) {
      if (attempts >= MAX_ADAPTIVE_ATTEMPTS) {
        throw new Error(`DPM adaptive: no step met the error tolerance after ${MAX_ADAPTIVE_ATTEMPTS} attempts (sigma ${sigmaOf(s)})`);
      }
      const cache: EpsCache = new Map();
      const t = Math.min(tEnd, s + pid.h);
      let t_ = t;
      let su = 0;
      if (eta) {
        const { sigmaDown } = ancestralStep(sigmaOf(s), sigmaOf(t), eta);
        t_ = Math.min(tEnd, tOf(sigmaDown));
        su = Math.sqrt(Math.max(sigmaOf(t) ** 2 - sigmaOf(t_) ** 2, 0));
      }
      const eps = await solver.eps(cache, 'eps', x, s);
      const denoised = lincomb(1, x, -sigmaOf(s), eps);
      const xLow = await solver.step2(x, s, t_, cache, 1 / 3);
      const xHigh = await solver.step3(x, s, t_, cache);
      let sum = 0;
      for (let k = 0; k < x.length; k++) {
        const delta = Math.max(atol, rtol * Math.max(Math.abs(xLow[k]), Math.abs(xPrev[k])));
        const e = (xLow[k] - xHigh[k]) / delta;
        sum += e * e;
      }
      const error = Math.sqrt(sum) / Math.sqrt(x.length);
      if (pid.proposeStep(error)) {
        xPrev = xLow;
        x = addDrawn(xHigh, su, context.randn);
        s = t;
      }
      context.onStep?.({ i: attempts, x, denoised });
      attempts++;
    }
    return x;
  }
}
