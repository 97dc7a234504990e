/**
 * k-diffusion's model wrappers: the UNet (an eps or v model on discrete timesteps) seen as a
 * denoiser D(x, σ) in the variance-exploding scale that the k-diffusion samplers integrate in.
 */
import type { SampleContext } from './types';

export type Prediction = 'epsilon' | 'v_prediction';

/** D(x, σ): the guided estimate of the clean latent. Each call is one UNet call. */
export type Denoiser = (x: Float32Array, sigma: number) => Promise<Float32Array>;

/** The part of a discrete sigma table a denoiser needs. */
export interface SigmaToTimestep {
  sigmaToT(sigma: number): number;
}

/**
 * `CompVisDenoiser` (eps): c_in = 1/sqrt(σ²+1), t = sigma_to_t(σ), D = x − σ·eps.
 * `CompVisVDenoiser` (v, sigma_data 1): D = x/(σ²+1) − σ·v/sqrt(σ²+1).
 */
export function compVisDenoiser(table: SigmaToTimestep, prediction: Prediction, context: SampleContext): Denoiser {
  return async (x, sigma) => {
    context.beforeModelCall?.();
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    const input = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) input[k] = x[k] * cIn;
    const out = (await context.unet(input, table.sigmaToT(sigma), 1, sigma)).guided;
    const denoised = new Float32Array(x.length);
    if (prediction === 'epsilon') {
      for (let k = 0; k < x.length; k++) denoised[k] = x[k] - sigma * out[k];
    } else {
      const cSkip = 1 / (sigma * sigma + 1);
      const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
      for (let k = 0; k < x.length; k++) denoised[k] = x[k] * cSkip + out[k] * cOut;
    }
    return denoised;
  };
}
