/**
 * The DPM-Solver++ samplers of k-diffusion (Lu et al. 2022), in t = −log σ: DPM++ 2S a,
 * DPM++ SDE, DPM++ 2M, DPM++ 2M SDE (midpoint and Heun) and DPM++ 3M SDE. The SDE samplers take
 * their noise from a Brownian motion over sigma (brownianTree.ts) seeded by the image seed.
 */
import { BrownianNoise } from './brownianTree';
import type { Denoiser } from './denoiser';
import { KDiffusionSampler } from './kSampler';
import { addNoise, addScaled, ancestralStep, lincomb, SampleContext, toD } from './types';

const sigmaFn = (t: number) => Math.exp(-t);
const tFn = (sigma: number) => -Math.log(sigma);

/** The samplers whose A1111 entry says `brownian_noise`: A1111's `create_noise_sampler`. */
abstract class BrownianSampler extends KDiffusionSampler {
  protected brownian(x: Float32Array, context: SampleContext): { noise(sigma: number, sigmaNext: number): Float32Array } {
    const injected = context.noiseSampler;
    if (injected) return { noise: injected };
    // sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
    let min = Infinity;
    let max = -Infinity;
    for (const s of this.setup.brownianSigmas ?? this.sigmas) {
      if (s > 0) min = Math.min(min, s);
      max = Math.max(max, s);
    }
    // Made at the first draw: a one-step schedule (σ_max, 0) draws none and has no interval to span.
    let tree: BrownianNoise | undefined;
    return { noise: (sigma, sigmaNext) => (tree ??= new BrownianNoise(x.length, min, max, context.seed)).noise(sigma, sigmaNext) };
  }
}

/** `sample_dpmpp_2s_ancestral`. */
export class DpmPp2SAncestralSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      const { sigmaDown, sigmaUp } = ancestralStep(s[i], s[i + 1], eta);
      if (sigmaDown === 0) {
        addScaled(x, sigmaDown - s[i], toD(x, s[i], denoised));
      } else {
        const t = tFn(s[i]);
        const tNext = tFn(sigmaDown);
        const r = 1 / 2;
        const h = tNext - t;
        const sMid = t + r * h;
        const x2 = lincomb(sigmaFn(sMid) / sigmaFn(t), x, -Math.expm1(-h * r), denoised);
        const denoised2 = await model(x2, sigmaFn(sMid));
        lincomb(sigmaFn(tNext) / sigmaFn(t), x, -Math.expm1(-h), denoised2, x);
      }
      if (s[i + 1] > 0) addNoise(x, sNoise * sigmaUp, context.randn);
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_dpmpp_sde` (r = 1/2): two stochastic half steps with Brownian noise. */
export class DpmPpSdeSampler extends BrownianSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    const noise = this.brownian(x, context);
    const r = 1 / 2;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      if (s[i + 1] === 0) {
        addScaled(x, s[i + 1] - s[i], toD(x, s[i], denoised));
      } else {
        const t = tFn(s[i]);
        const tNext = tFn(s[i + 1]);
        const h = tNext - t;
        const sMid = t + h * r;
        const fac = 1 / (2 * r);
        // Step 1
        let a = ancestralStep(sigmaFn(t), sigmaFn(sMid), eta);
        const s_ = tFn(a.sigmaDown);
        const x2 = lincomb(sigmaFn(s_) / sigmaFn(t), x, -Math.expm1(t - s_), denoised);
        addScaled(x2, sNoise * a.sigmaUp, noise.noise(sigmaFn(t), sigmaFn(sMid)));
        const denoised2 = await model(x2, sigmaFn(sMid));
        // Step 2
        a = ancestralStep(sigmaFn(t), sigmaFn(tNext), eta);
        const tNext_ = tFn(a.sigmaDown);
        const denoisedD = lincomb(1 - fac, denoised, fac, denoised2);
        lincomb(sigmaFn(tNext_) / sigmaFn(t), x, -Math.expm1(t - tNext_), denoisedD, x);
        addScaled(x, sNoise * a.sigmaUp, noise.noise(sigmaFn(t), sigmaFn(tNext)));
      }
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_dpmpp_2m`. */
export class DpmPp2MSampler extends KDiffusionSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    let oldDenoised: Float32Array | undefined;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      if (s[i + 1] === 0) {
        // σ_next/σ = 0 and −expm1(−h) = 1 as h → ∞: the result is the estimate itself.
        x = Float32Array.from(denoised);
      } else {
        const t = tFn(s[i]);
        const tNext = tFn(s[i + 1]);
        const h = tNext - t;
        const ratio = sigmaFn(tNext) / sigmaFn(t);
        const coef = -Math.expm1(-h);
        if (oldDenoised === undefined) {
          lincomb(ratio, x, coef, denoised, x);
        } else {
          const hLast = t - tFn(s[i - 1]);
          const r = hLast / h;
          const a = coef * (1 + 1 / (2 * r));
          const b = coef * (1 / (2 * r));
          for (let k = 0; k < x.length; k++) x[k] = ratio * x[k] + a * denoised[k] - b * oldDenoised[k];
        }
      }
      oldDenoised = denoised;
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_dpmpp_2m_sde` with solver_type 'midpoint' (DPM++ 2M SDE) or 'heun' (DPM++ 2M SDE Heun). */
export class DpmPp2MSdeSampler extends BrownianSampler {
  solverType: 'midpoint' | 'heun' = 'midpoint';

  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    const noise = this.brownian(x, context);
    let oldDenoised: Float32Array | undefined;
    let hLast = 0;
    let h = 0;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      if (s[i + 1] === 0) {
        x = Float32Array.from(denoised);
      } else {
        const t = -Math.log(s[i]);
        const sNext = -Math.log(s[i + 1]);
        h = sNext - t;
        const etaH = eta * h;
        const phi = -Math.expm1(-h - etaH);
        lincomb((s[i + 1] / s[i]) * Math.exp(-etaH), x, phi, denoised, x);
        if (oldDenoised !== undefined) {
          const r = hLast / h;
          const c = this.solverType === 'heun' ? (phi / (-h - etaH) + 1) * (1 / r) : 0.5 * phi * (1 / r);
          for (let k = 0; k < x.length; k++) x[k] += c * (denoised[k] - oldDenoised[k]);
        }
        if (eta) addScaled(x, s[i + 1] * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise, noise.noise(s[i], s[i + 1]));
      }
      oldDenoised = denoised;
      hLast = h;
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}

/** `sample_dpmpp_3m_sde`. */
export class DpmPp3MSdeSampler extends BrownianSampler {
  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    const s = this.sigmas;
    const { eta, sNoise } = this.options;
    const noise = this.brownian(x, context);
    let denoised1: Float32Array | undefined;
    let denoised2: Float32Array | undefined;
    let h = 0;
    let h1: number | undefined;
    let h2: number | undefined;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      if (s[i + 1] === 0) {
        x = Float32Array.from(denoised);
      } else {
        const t = -Math.log(s[i]);
        const sNext = -Math.log(s[i + 1]);
        h = sNext - t;
        const hEta = h * (eta + 1);
        lincomb(Math.exp(-hEta), x, -Math.expm1(-hEta), denoised, x);
        if (h2 !== undefined && denoised2 !== undefined && denoised1 !== undefined && h1 !== undefined) {
          const r0 = h1 / h;
          const r1 = h2 / h;
          const phi2 = Math.expm1(-hEta) / hEta + 1;
          const phi3 = phi2 / hEta - 0.5;
          for (let k = 0; k < x.length; k++) {
            const d10 = (denoised[k] - denoised1[k]) / r0;
            const d11 = (denoised1[k] - denoised2[k]) / r1;
            const d1 = d10 + ((d10 - d11) * r0) / (r0 + r1);
            const d2 = (d10 - d11) / (r0 + r1);
            x[k] += phi2 * d1 - phi3 * d2;
          }
        } else if (h1 !== undefined && denoised1 !== undefined) {
          const r = h1 / h;
          const phi2 = Math.expm1(-hEta) / hEta + 1;
          for (let k = 0; k < x.length; k++) x[k] += (phi2 * (denoised[k] - denoised1[k])) / r;
        }
        if (eta) addScaled(x, s[i + 1] * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise, noise.noise(s[i], s[i + 1]));
      }
      denoised2 = denoised1;
      denoised1 = denoised;
      h2 = h1;
      h1 = h;
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}
