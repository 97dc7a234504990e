import { ImageRng } from './imageRng';
import type { NoiseParameters } from './noiseParameters';
import { batchSeeds } from './seeds';

/** What a render's noise depends on (a subset of txt2img's RenderParameters). */
export interface NoiseRequest {
  seed: number;
  width: number;
  height: number;
  noise?: NoiseParameters;
}

/**
 * The generators a render of `images` images draws from, as A1111's process_images sets up
 * `p.rng`: latent shape [4, H/8, W/8], the batch's seeds and variation seeds, and the file's
 * variation strength, seed resize and ENSD. Without noise parameters: GPU noise from the seed.
 * txt2img and `sd-prompt noise` both make their noise here, so the command shows the render's.
 */
export function renderImageRng(p: NoiseRequest, images = 1): ImageRng {
  const noise = p.noise;
  const { seeds, subseeds } = batchSeeds(p.seed, noise?.subseed ?? 0, noise?.subseedStrength ?? 0, images);
  return new ImageRng({
    source: noise?.source ?? 'GPU',
    shape: [4, Math.floor(p.height / 8), Math.floor(p.width / 8)],
    seeds,
    subseeds,
    subseedStrength: noise?.subseedStrength ?? 0,
    seedResizeFrom: noise?.seedResizeFrom,
    etaNoiseSeedDelta: noise?.etaNoiseSeedDelta ?? 0,
  });
}
