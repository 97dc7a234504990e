/**
 * The samplers of Karras et al. (2022) as k-diffusion writes them (`sampling.py`): Euler, Euler
 * ancestral, Heun, DPM2 and DPM2 ancestral. Transcribed step for step; float64 scalars, float32
 * latents.
 */
import type { Denoiser } from './denoiser';
import { KDiffusionSampler } from './kSampler';
import { addNoise, addScaled, ancestralStep, SampleContext, toD } from './types';

/** Euler, Heun and DPM2 take A1111's s_churn/s_tmin/s_tmax/s_noise (Algorithm 2's churn). */
abstract class ChurnSampler extends KDiffusionSampler {
  /** The churn part of Algorithm 2: sigma_hat, with noise added to x (in place) when gamma > 0. */
  protected churn(x: Float32Array, i: number, context: SampleContext): number {
    const { sChurn, sTmin, sTmax, sNoise } = this.options;
    const sigma = this.sigmas[i];
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmas.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = sigma * (gamma + 1);
    // k-diffusion draws eps every step; with s_churn 0 (A1111's default) no draw is ever used, so none is made.
    if (sChurn > 0) {
      const eps = new Float32Array(x.length);
      context.randn(eps);
      if (gamma > 0) addScaled(x, sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), eps);
    }
    return sigmaHat;
  }
}

/** `sample_euler`. */
export class EulerSampler extends ChurnSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    for (let i = 0; i < s.length - 1; i++) {
      const sigmaHat = this.churn(x, i, context);
      const denoised = await model(x, sigmaHat);
      const d = toD(x, sigmaHat, denoised);
      addScaled(x, s[i + 1] - sigmaHat, d);
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_euler_ancestral` ("Euler a"). */
export class EulerAncestralSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      const { sigmaDown, sigmaUp } = ancestralStep(s[i], s[i + 1], eta);
      const d = toD(x, s[i], denoised);
      addScaled(x, sigmaDown - s[i], d);
      if (s[i + 1] > 0) addNoise(x, sNoise * sigmaUp, context.randn);
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_heun`: Euler to sigma_next, then the trapezoid average of both slopes (Euler on the last step). */
export class HeunSampler extends ChurnSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    for (let i = 0; i < s.length - 1; i++) {
      const sigmaHat = this.churn(x, i, context);
      const denoised = await model(x, sigmaHat);
      const d = toD(x, sigmaHat, denoised);
      const dt = s[i + 1] - sigmaHat;
      if (s[i + 1] === 0) {
        addScaled(x, dt, d);
      } else {
        const x2 = addScaled(Float32Array.from(x), dt, d);
        const d2 = toD(x2, s[i + 1], await model(x2, s[i + 1]));
        for (let k = 0; k < x.length; k++) x[k] += ((d[k] + d2[k]) / 2) * dt;
      }
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** torch `a.log().lerp(b.log(), 0.5).exp()`: the geometric midpoint k-diffusion's DPM2 uses. */
function logMidpoint(a: number, b: number): number {
  const la = Math.log(a);
  return Math.exp(la + 0.5 * (Math.log(b) - la));
}

/** `sample_dpm_2`: the midpoint method in log sigma (DPM-Solver-2); Euler on the last step. */
export class Dpm2Sampler extends ChurnSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    for (let i = 0; i < s.length - 1; i++) {
      const sigmaHat = this.churn(x, i, context);
      const denoised = await model(x, sigmaHat);
      const d = toD(x, sigmaHat, denoised);
      if (s[i + 1] === 0) {
        addScaled(x, s[i + 1] - sigmaHat, d);
      } else {
        const sigmaMid = logMidpoint(sigmaHat, s[i + 1]);
        const x2 = addScaled(Float32Array.from(x), sigmaMid - sigmaHat, d);
        const d2 = toD(x2, sigmaMid, await model(x2, sigmaMid));
        addScaled(x, s[i + 1] - sigmaHat, d2);
      }
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_dpm_2_ancestral` ("DPM2 a"): DPM2 down to sigma_down, then ancestral noise. */
export class Dpm2AncestralSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      const { sigmaDown, sigmaUp } = ancestralStep(s[i], s[i + 1], eta);
      const d = toD(x, s[i], denoised);
      if (sigmaDown === 0) {
        addScaled(x, sigmaDown - s[i], d);
      } else {
        const sigmaMid = logMidpoint(s[i], sigmaDown);
        const x2 = addScaled(Float32Array.from(x), sigmaMid - s[i], d);
        const d2 = toD(x2, sigmaMid, await model(x2, sigmaMid));
        addScaled(x, sigmaDown - s[i], d2);
        // k-diffusion adds the noise inside this branch only.
        addNoise(x, sNoise * sigmaUp, context.randn);
      }
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}
