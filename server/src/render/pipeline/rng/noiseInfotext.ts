import type { NoiseParameters } from './noiseParameters';

/**
 * A1111's samplers whose config says `uses_ensd` (sd_samplers_kdiffusion.py, sd_samplers_timesteps.py):
 * `create_infotext` writes `ENSD` only for them (is_sampler_using_eta_noise_seed_delta), though the
 * delta reseeds the generators for every sampler. DDIM is one too, but with its default eta of 0
 * A1111 leaves ENSD out, and our DDIM has no eta.
 */
const SAMPLERS_USING_ENSD = new Set(['Euler a', 'DPM2 a', 'DPM++ 2S a', 'DPM fast', 'DPM adaptive']);

/**
 * The noise's `Key: value` pairs in A1111's infotext, in `create_infotext`'s order relative to each
 * other: Variation seed and its strength (only with a strength), Seed resize from (only when both
 * sides are set), ENSD (only for a sampler that uses it, and not 0), RNG (only when not GPU).
 */
export function noiseInfotextParameters(noise: NoiseParameters | undefined, samplerLabel: string): [key: string, value: string | number | undefined][] {
  if (!noise) return [];
  const strength = noise.subseedStrength !== 0;
  const resize = noise.seedResizeFrom;
  return [
    ['Variation seed', strength ? noise.subseed : undefined],
    ['Variation seed strength', strength ? noise.subseedStrength : undefined],
    ['Seed resize from', resize ? `${resize.width}x${resize.height}` : undefined],
    ['ENSD', noise.etaNoiseSeedDelta !== 0 && SAMPLERS_USING_ENSD.has(samplerLabel) ? noise.etaNoiseSeedDelta : undefined],
    ['RNG', noise.source !== 'GPU' ? noise.source : undefined],
  ];
}
