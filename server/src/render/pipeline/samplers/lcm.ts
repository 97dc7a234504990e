/**
 * A1111's LCM (`modules/sd_samplers_lcm.py`): `LCMCompVisDenoiser` (the UNet sees the timestep
 * of the nearest point of LCM's 50-step grid; its estimate goes through LCM's boundary condition,
 * sigma_data 0.5 and timestep scaling 10, applied to the unscaled latent as A1111 does), and
 * `sample_lcm`: x = denoised + σ_next·fresh noise.
 */
import { compVisDenoiser, Denoiser } from './denoiser';
import { KDiffusionSampler, KSamplerSetup } from './kSampler';
import { addNoise, SampleContext } from './types';

/** The LCM grid's sigma ↔ timestep mapping (schedulers.ts `LcmSigmas`). */
export interface LcmGrid {
  timestepOf(sigma: number): number;
}

export class LcmSampler extends KDiffusionSampler {
  constructor(
    setup: KSamplerSetup,
    private readonly grid: LcmGrid,
  ) {
    super(setup);
  }

  protected override denoiser(context: SampleContext): Denoiser {
    // A1111 assumes eps; a v model gets the CompVisVDenoiser conversion first (an extension).
    const inner = compVisDenoiser({ sigmaToT: (s) => this.grid.timestepOf(s) }, this.setup.prediction, context);
    return async (x, sigma) => {
      const denoised = await inner(x, sigma);
      const scaled = this.grid.timestepOf(sigma) * 10;
      const cSkip = 0.25 / (scaled * scaled + 0.25);
      const cOut = scaled / Math.sqrt(scaled * scaled + 0.25);
      for (let k = 0; k < x.length; k++) denoised[k] = cOut * denoised[k] + cSkip * x[k];
      return denoised;
    };
  }

  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    const s = this.sigmas;
    for (let i = 0; i < s.length - 1; i++) {
      const denoised = await model(x, s[i]);
      x = Float32Array.from(denoised);
      if (s[i + 1] > 0) addNoise(x, s[i + 1], context.randn);
      context.onStep?.({ i, x, denoised });
    }
    return x;
  }
}
