/**
 * The base of the samplers that run over a sigma schedule through k-diffusion's model wrapper
 * (A1111's `KDiffusionSampler`): the schedule, the starting noise level, and the options A1111
 * passes them (`eta`, `s_noise`, `s_churn`, `s_tmin`, `s_tmax`).
 */
import { compVisDenoiser, Denoiser, Prediction, SigmaToTimestep } from './denoiser';
import type { SampleContext, Sampler } from './types';

export interface KSamplerOptions {
  /** A1111 "Eta" (opts.eta_ancestral, default 1), for every sampler whose k-diffusion function takes `eta`. */
  eta: number;
  /** A1111 "Sigma noise" (opts.s_noise, default 1). */
  sNoise: number;
  /** A1111 "Sigma churn" (opts.s_churn, default 0): Euler, Heun and DPM2 only. */
  sChurn: number;
  /** A1111 "Sigma tmin" (default 0). */
  sTmin: number;
  /** A1111 "Sigma tmax" (default 0, which A1111 reads as infinity). */
  sTmax: number;
}

export const DEFAULT_K_OPTIONS: Readonly<KSamplerOptions> = Object.freeze({ eta: 1, sNoise: 1, sChurn: 0, sTmin: 0, sTmax: Infinity });

export interface KSamplerSetup {
  label: string;
  sigmas: Float64Array;
  schedule: string;
  /** The model's sigma table: sigma → UNet timestep. */
  table: SigmaToTimestep;
  prediction: Prediction;
  options: KSamplerOptions;
  /** The model's own smallest and largest sigma (DPM fast/adaptive integrate between them). */
  modelSigmaMin: number;
  modelSigmaMax: number;
  /** The schedule the SDE samplers' Brownian tree spans (img2img: the whole one, not the part that runs); `sigmas` when absent. */
  brownianSigmas?: Float64Array;
  /** The starting noise level (sigmas[0]; sqrt(1 + sigmas[0]²) with A1111's SGM noise multiplier). */
  initNoiseSigma?: number;
}

export abstract class KDiffusionSampler implements Sampler {
  readonly label: string;
  readonly sigmas: Float64Array;
  readonly schedule: string;
  readonly steps: number;
  readonly initNoiseSigma: number;
  protected readonly options: KSamplerOptions;

  constructor(protected readonly setup: KSamplerSetup) {
    this.label = setup.label;
    this.sigmas = setup.sigmas;
    this.schedule = setup.schedule;
    this.options = setup.options;
    this.steps = setup.sigmas.length - 1;
    // A1111 KDiffusionSampler.sample: x = x * sigmas[0] (opts.sgm_noise_multiplier off).
    this.initNoiseSigma = setup.initNoiseSigma ?? setup.sigmas[0];
  }

  sample(x: Float32Array, context: SampleContext): Promise<Float32Array> {
    return this.run(x, this.denoiser(context), context);
  }

  protected denoiser(context: SampleContext): Denoiser {
    return compVisDenoiser(this.setup.table, this.setup.prediction, context);
  }

  protected abstract run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array>;
}
