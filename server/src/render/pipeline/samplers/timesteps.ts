/**
 * A1111's timestep samplers (`modules/sd_samplers_timesteps.py`, `sd_samplers_timesteps_impl.py`):
 * DDIM, DDIM CFG++ and PLMS, which walk A1111's DDIM timesteps on the eps model directly (the
 * latent stays in the variance-preserving scale: no input scaling, initial noise N(0, 1)).
 */
import type { Prediction } from './denoiser';
import { addNoise, SampleContext, Sampler } from './types';

/**
 * A1111's DDIM timesteps (`CompVisSampler.get_timesteps`), ascending:
 * `clip(range(0, T, T // steps) + offset, 0, T−1)`. The length is ceil(T / (T // steps)),
 * which is `steps` only when the stride divides T evenly (30 steps give 31 entries).
 */
export function a1111DdimTimesteps(steps: number, numTrainTimesteps = 1000, stepsOffset = 1): Int32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const stride = Math.floor(numTrainTimesteps / steps);
  if (stride < 1) throw new RangeError(`DDIM needs steps ≤ ${numTrainTimesteps}, got ${steps}`);
  const out: number[] = [];
  for (let t = 0; t < numTrainTimesteps; t += stride) {
    out.push(Math.min(Math.max(t + stepsOffset, 0), numTrainTimesteps - 1));
  }
  return Int32Array.from(out);
}

/** What the timestep samplers need from the noise schedule. */
export interface TimestepSchedule {
  readonly alphasCumprod: Float64Array;
  readonly numTrainTimesteps: number;
  readonly stepsOffset: number;
}

export type EpsModel = (x: Float32Array, timestep: number, cfgScaleMultiplier?: number) => Promise<{ eps: Float32Array; uncond: Float32Array }>;

/**
 * `CompVisTimestepsDenoiser` (the UNet's eps as is) or `CompVisTimestepsVDenoiser`
 * (eps = sqrt(ᾱ)·v + sqrt(1−ᾱ)·x, ᾱ at the timestep truncated to an integer, as `t.to(int)`).
 */
export function timestepEpsModel(alphasCumprod: Float64Array, prediction: Prediction, context: SampleContext): EpsModel {
  return async (x, timestep, multiplier = 1) => {
    context.beforeModelCall?.();
    const out = await context.unet(Float32Array.from(x), timestep, multiplier, timestep);
    if (prediction === 'epsilon') return { eps: out.guided, uncond: out.uncond };
    const ac = alphasCumprod[Math.trunc(timestep)];
    const a = Math.sqrt(ac);
    const b = Math.sqrt(1 - ac);
    const toEps = (v: Float32Array) => {
      const e = new Float32Array(v.length);
      for (let k = 0; k < v.length; k++) e[k] = a * v[k] + b * x[k];
      return e;
    };
    return { eps: toEps(out.guided), uncond: toEps(out.uncond) };
  };
}

export type TimestepKind = 'ddim' | 'ddim_cfgpp' | 'plms';

/**
 * DDIM, DDIM CFG++ and PLMS over `a1111DdimTimesteps`. They walk the list from the top and each
 * step lands on the next lower entry, so they make len−1 steps and end on ᾱ of the lowest entry
 * (timestep 1), not on a clean x0: 20 steps are 19 steps from t=951 to t=51, exactly as A1111.
 */
export class TimestepSampler implements Sampler {
  readonly schedule = 'ddim_timesteps';
  readonly steps: number;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma = 1;
  readonly timesteps: Int32Array;
  private readonly alphas: Float64Array;
  private readonly alphasPrev: Float64Array;
  private readonly alphasCumprod: Float64Array;

  constructor(
    readonly label: string,
    private readonly kind: TimestepKind,
    schedule: TimestepSchedule,
    requestedSteps: number,
    private readonly eta: number,
    private readonly prediction: Prediction,
  ) {
    const ts = a1111DdimTimesteps(requestedSteps, schedule.numTrainTimesteps, schedule.stepsOffset);
    const ac = schedule.alphasCumprod;
    this.timesteps = ts;
    this.steps = ts.length - 1;
    this.alphas = new Float64Array(ts.length);
    this.alphasPrev = new Float64Array(ts.length);
    this.sigmas = new Float64Array(ts.length);
    for (let k = 0; k < ts.length; k++) {
      this.alphas[k] = ac[ts[k]];
      // alphas_cumprod[pad(timesteps[:-1], (1, 0))]: the entry below, ᾱ[0] for the lowest.
      this.alphasPrev[k] = ac[k === 0 ? 0 : ts[k - 1]];
    }
    for (let i = 0; i < ts.length; i++) {
      const a = this.alphas[ts.length - 1 - i];
      this.sigmas[i] = Math.sqrt((1 - a) / a);
    }
    this.alphasCumprod = ac;
  }

  sample(x: Float32Array, context: SampleContext): Promise<Float32Array> {
    const model = timestepEpsModel(this.alphasCumprod, this.prediction, context);
    return this.kind === 'plms' ? this.plms(x, model, context) : this.ddim(x, model, context);
  }

  /** `ddim` and `ddim_cfgpp` (CFG scale × 1/12.5, the direction along the unconditional eps). */
  private async ddim(x: Float32Array, model: EpsModel, context: SampleContext): Promise<Float32Array> {
    const ts = this.timesteps;
    const cfgpp = this.kind === 'ddim_cfgpp';
    for (let i = 0; i < ts.length - 1; i++) {
      const index = ts.length - 1 - i;
      const out = await model(x, ts[index], cfgpp ? 1 / 12.5 : 1);
      const eT = out.eps;
      const direction = cfgpp ? out.uncond : eT;
      const aT = this.alphas[index];
      const aPrev = this.alphasPrev[index];
      const sigmaT = this.eta * Math.sqrt(((1 - aPrev) / (1 - aT)) * (1 - aT / aPrev));
      const sqrt1mA = Math.sqrt(1 - aT);
      const sqrtA = Math.sqrt(aT);
      const dirCoef = Math.sqrt(Math.max(1 - aPrev - sigmaT * sigmaT, 0));
      const sqrtAPrev = Math.sqrt(aPrev);
      const predX0 = new Float32Array(x.length);
      const next = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) {
        const x0 = (x[k] - sqrt1mA * eT[k]) / sqrtA;
        predX0[k] = x0;
        next[k] = sqrtAPrev * x0 + dirCoef * direction[k];
      }
      // A1111 draws every step; with eta 0 every draw has weight 0 and none is made.
      if (this.eta) addNoise(next, sigmaT, context.randn);
      x = next;
      context.onStep?.({ i, x, denoised: predX0 });
    }
    return x;
  }

  /** `plms`: a pseudo improved Euler first step, then Adams–Bashforth of orders 2 to 4 on eps. */
  private async plms(x: Float32Array, model: EpsModel, context: SampleContext): Promise<Float32Array> {
    const ts = this.timesteps;
    const oldEps: Float32Array[] = [];
    const xPrevAndPredX0 = (xNow: Float32Array, eT: Float32Array, index: number) => {
      const aT = this.alphas[index];
      const aPrev = this.alphasPrev[index];
      const sqrt1mA = Math.sqrt(1 - aT);
      const sqrtA = Math.sqrt(aT);
      const sqrtAPrev = Math.sqrt(aPrev);
      const dir = Math.sqrt(1 - aPrev);
      const predX0 = new Float32Array(xNow.length);
      const xPrev = new Float32Array(xNow.length);
      for (let k = 0; k < xNow.length; k++) {
        predX0[k] = (xNow[k] - sqrt1mA * eT[k]) / sqrtA;
        xPrev[k] = sqrtAPrev * predX0[k] + dir * eT[k];
      }
      return { xPrev, predX0 };
    };
    for (let i = 0; i < ts.length - 1; i++) {
      const index = ts.length - 1 - i;
      const tNext = ts[Math.max(index - 1, 0)];
      const eT = (await model(x, ts[index])).eps;
      const ePrime = new Float32Array(x.length);
      const n = oldEps.length;
      if (n === 0) {
        const { xPrev } = xPrevAndPredX0(x, eT, index);
        const eNext = (await model(xPrev, tNext)).eps;
        for (let k = 0; k < x.length; k++) ePrime[k] = (eT[k] + eNext[k]) / 2;
      } else if (n === 1) {
        const e1 = oldEps[n - 1];
        for (let k = 0; k < x.length; k++) ePrime[k] = (3 * eT[k] - e1[k]) / 2;
      } else if (n === 2) {
        const e1 = oldEps[n - 1];
        const e2 = oldEps[n - 2];
        for (let k = 0; k < x.length; k++) ePrime[k] = (23 * eT[k] - 16 * e1[k] + 5 * e2[k]) / 12;
      } else {
        const e1 = oldEps[n - 1];
        const e2 = oldEps[n - 2];
        const e3 = oldEps[n - 3];
        for (let k = 0; k < x.length; k++) ePrime[k] = (55 * eT[k] - 59 * e1[k] + 37 * e2[k] - 9 * e3[k]) / 24;
      }
      const { xPrev, predX0 } = xPrevAndPredX0(x, ePrime, index);
      oldEps.push(eT);
      if (oldEps.length >= 4) oldEps.shift();
      x = xPrev;
      context.onStep?.({ i, x, denoised: predX0 });
    }
    return x;
  }
}
