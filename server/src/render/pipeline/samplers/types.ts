/**
 * What every sampler shares: how it calls the model, where its noise comes from, and the
 * per-render object the pipeline drives. A sampler runs its whole loop itself (as k-diffusion's
 * `sample_*` functions do), because several call the model more than once per step (Heun, DPM2,
 * DPM++ SDE, Restart, DPM fast/adaptive, PLMS's first step, UniPC's corrector): the pipeline hands
 * it a callback that runs the UNet with classifier-free guidance, and a source of noise.
 */

/** Fills the array with independent N(0, 1) samples (the pipeline's per-image generator). */
export type RandnFill = (out: Float32Array) => void;

/** What one guided UNet call returns, in the model's own parameterization (eps or v). */
export interface GuidedOutput {
  /** A1111's CFG combine of the conditional outputs with the unconditional one. */
  guided: Float32Array;
  /** The unconditional (negative prompt) output alone: DDIM CFG++ steps along it. */
  uncond: Float32Array;
}

/**
 * Runs the UNet with CFG on `sample` (the UNet's input, already scaled) at `timestep` (fractional
 * for the k-diffusion samplers, as k-diffusion's `sigma_to_t` gives it). `cfgScaleMultiplier`
 * multiplies the CFG scale (A1111's `cond_scale_miltiplier`: 1, or 1/12.5 for DDIM CFG++).
 * `sigma` is what A1111's CFG denoiser receives as its `sigma` argument (NGMS compares it with
 * s_min_uncond): the noise level for the k-diffusion samplers, the timestep itself for the timestep
 * samplers (their CFGDenoiserTimesteps gets timesteps there). Each call is one step of A1111's
 * `CFGDenoiser.step` counter, which prompt editing reads.
 */
export type UnetCall = (sample: Float32Array, timestep: number, cfgScaleMultiplier: number, sigma: number) => Promise<GuidedOutput>;

/** One finished step, for progress and previews (k-diffusion's `callback`). */
export interface StepInfo {
  /** 0-based step index as the sampler counts it. */
  i: number;
  /** The latent after the step. */
  x: Float32Array;
  /** The model's estimate of the clean latent at this step. */
  denoised: Float32Array;
}

export interface SampleContext {
  unet: UnetCall;
  /** Ancestral and other per-step noise (A1111's `torch.randn_like`, the image's generator). */
  randn: RandnFill;
  /** The image seed: the Brownian tree of the SDE samplers is seeded by it, as A1111 seeds it. */
  seed: number;
  /**
   * Replaces the SDE samplers' Brownian noise (k-diffusion's `noise_sampler(sigma, sigma_next)`,
   * N(0,1) per element): for tests that compare against a transcription with the same noise.
   */
  noiseSampler?: (sigma: number, sigmaNext: number) => Float32Array;
  onStep?: (info: StepInfo) => void;
  /** Checked before each model call; throwing from it stops the sampler (cancel). */
  beforeModelCall?: () => void;
}

/** A sampler for one render: call `sample` once with the initial noise already multiplied by `initNoiseSigma`. */
export interface Sampler {
  /** A1111's label ("DPM++ SDE"). */
  readonly label: string;
  /** The schedule it runs on: a sigma schedule name, or 'ddim_timesteps' for the timestep samplers. */
  readonly schedule: string;
  /** How many steps `onStep` reports (DPM adaptive: an estimate; it decides as it goes). */
  readonly steps: number;
  /**
   * The noise levels: for k-diffusion samplers the sigma schedule (steps + 1 entries, usually
   * ending in 0); for the timestep samplers sqrt((1−ᾱ)/ᾱ) of their timesteps.
   */
  readonly sigmas: Float64Array;
  /** Multiply the N(0,1) starting latent by this (k-diffusion: sigmas[0]; timestep samplers: 1). */
  readonly initNoiseSigma: number;
  sample(x: Float32Array, context: SampleContext): Promise<Float32Array>;
}

// ---------------------------------------------------------------------------------------------
// Latent arithmetic: plain loops over Float32Array (a closure per element would cost more than
// the sampler's own math at SD sizes).

/** out[k] = a·x[k] + b·y[k]; returns out (a new array when not given). */
export function lincomb(a: number, x: Float32Array, b: number, y: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
  for (let k = 0; k < x.length; k++) out[k] = a * x[k] + b * y[k];
  return out;
}

/** x[k] += a·y[k], in place. */
export function addScaled(x: Float32Array, a: number, y: Float32Array): Float32Array {
  for (let k = 0; k < x.length; k++) x[k] += a * y[k];
  return x;
}

/** k-diffusion `to_d`: (x − denoised) / sigma. */
export function toD(x: Float32Array, sigma: number, denoised: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const inv = 1 / sigma;
  for (let k = 0; k < x.length; k++) out[k] = (x[k] - denoised[k]) * inv;
  return out;
}

/**
 * Adds `scale` × a fresh N(0,1) draw to x (in place). It draws also when scale is 0, as k-diffusion
 * does (Euler a with Eta 0), so the image's generator advances as A1111's does.
 */
export function addNoise(x: Float32Array, scale: number, randn: RandnFill): void {
  const z = new Float32Array(x.length);
  randn(z);
  addScaled(x, scale, z);
}

/** k-diffusion `get_ancestral_step`: how far to step down deterministically, how much noise to add. */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(sigmaTo, eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
  const sigmaDown = Math.sqrt(Math.max(sigmaTo ** 2 - sigmaUp ** 2, 0));
  return { sigmaDown, sigmaUp };
}
