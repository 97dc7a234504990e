import { PhiloxGenerator } from './philox';
import { TorchCpuGenerator } from './torchCpuRandn';

/**
 * One image's random-number generator: each call fills `out` with the next standard normal
 * tensor of that length, as one `torch.randn(shape, generator=g)` call would (the shape matters
 * only through its element count, in C order).
 */
export interface NoiseGenerator {
  randn(out: Float32Array): void;
}

/** A1111's `RNG:` parameter and its "Random number generator source" setting (`randn_source`). */
export const RNG_SOURCES = ['GPU', 'CPU', 'NV'] as const;
export type RngSource = (typeof RNG_SOURCES)[number];

/**
 * A1111's `rng.create_generator(seed)`. NV is its Philox generator; GPU is what an NVidia card's
 * `torch.randn` gives, which is what the NV generator was written to reproduce, so both take it.
 * CPU is torch's CPU generator.
 */
export function createGenerator(source: RngSource, seed: number): NoiseGenerator {
  return source === 'CPU' ? new TorchCpuGenerator(seed) : new PhiloxGenerator(seed);
}
