import type { NoiseParameters } from './noiseParameters';

/**
 * A1111's samplers whose config says `uses_ensd` (sd_samplers_kdiffusion.py, sd_samplers_timesteps.py),
 * with their default eta (`default_eta_is_0`: DDIM): `create_infotext` writes `ENSD` only for them and
 * only when their eta is not 0 (is_sampler_using_eta_noise_seed_delta), though the delta reseeds the
 * generators for every sampler.
 */
const SAMPLERS_USING_ENSD = new Map([
  ['Euler a', 1],
  ['DPM2 a', 1],
  ['DPM++ 2S a', 1],
  ['DPM fast', 1],
  ['DPM adaptive', 1],
  ['DDIM', 0],
]);

/**
 * The noise's `Key: value` pairs in A1111's infotext, in `create_infotext`'s order relative to each
 * other: Variation seed and its strength (only with a strength), Seed resize from (only when both
 * sides are set), ENSD (only for a sampler that uses it, with an eta that is not 0, and a delta that is not 0), RNG (only when not GPU).
 */
export function noiseInfotextParameters(
  noise: NoiseParameters | undefined,
  samplerLabel: string,
  /** The sampler's eta when the file or settings set one (A1111's `Eta` / `Eta DDIM`). */
  eta?: number,
): [key: string, value: string | number | undefined][] {
  if (!noise) return [];
  const strength = noise.subseedStrength !== 0;
  const resize = noise.seedResizeFrom;
  const defaultEta = SAMPLERS_USING_ENSD.get(samplerLabel);
  const writesEnsd = noise.etaNoiseSeedDelta !== 0 && defaultEta !== undefined && (eta ?? defaultEta) !== 0;
  return [
    ['Variation seed', strength ? noise.subseed : undefined],
    ['Variation seed strength', strength ? noise.subseedStrength : undefined],
    ['Seed resize from', resize ? `${resize.width}x${resize.height}` : undefined],
    ['ENSD', writesEnsd ? noise.etaNoiseSeedDelta : undefined],
    ['RNG', noise.source !== 'GPU' ? noise.source : undefined],
  ];
}
