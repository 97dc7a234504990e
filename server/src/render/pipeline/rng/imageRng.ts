import { createGenerator, NoiseGenerator, RngSource } from './noiseGenerator';
import { slerp } from './slerp';

/** One image's latent shape: [channels, height / 8, width / 8]. */
export type LatentShape = readonly [number, number, number];

export interface ImageRngOptions {
  source: RngSource;
  shape: LatentShape;
  /** One per image of the batch (see `batchSeeds`). */
  seeds: number[];
  /** Variation seeds, one per image; an image past the list's end gets 0, as in A1111. */
  subseeds?: number[];
  /** Variation strength: 0 leaves the seed's noise alone, 1 is the variation seed's. */
  subseedStrength?: number;
  /** `Seed resize from: WxH`: make the noise for that size and paste it centred. */
  seedResizeFrom?: { width: number; height: number };
  /** `ENSD` / `Eta noise seed delta`: after the first draw the generators restart at seed + delta. */
  etaNoiseSeedDelta?: number;
}

/**
 * A1111's `rng.ImageRNG`: one generator per image, so an image comes out the same alone or in a
 * batch. `next()` first returns the initial noise (`first()`: variation seed slerp, seed resize),
 * then each later call the batch's next draw, which is what ancestral samplers add at each step
 * (k-diffusion's `torch.randn_like`, hijacked by A1111 to take `p.rng.next()`).
 */
export class ImageRng {
  private generators: NoiseGenerator[];
  private isFirst = true;
  readonly imageSize: number;
  /** The number of draws made so far, the first one included. */
  draws = 0;

  constructor(readonly options: ImageRngOptions) {
    this.generators = options.seeds.map((seed) => createGenerator(options.source, seed));
    this.imageSize = options.shape[0] * options.shape[1] * options.shape[2];
  }

  /** The batch's next draw: every image's tensor, one after the other (C order, [batch, C, H, W]). */
  next(): Float32Array {
    this.draws++;
    if (this.isFirst) {
      this.isFirst = false;
      return this.first();
    }
    const out = new Float32Array(this.imageSize * this.generators.length);
    for (const [i, generator] of this.generators.entries()) generator.randn(out.subarray(i * this.imageSize, (i + 1) * this.imageSize));
    return out;
  }

  /** A sampler's noise source (schedulers' `RandnFill`): fills a batch-sized latent with the next draw. */
  readonly fill = (out: Float32Array): void => {
    if (out.length !== this.imageSize * this.generators.length) {
      throw new Error(`noise of ${out.length} values asked for a batch of ${this.generators.length} latents of ${this.imageSize}`);
    }
    out.set(this.next());
  };

  private first(): Float32Array {
    const { source, shape, seeds, subseeds, subseedStrength = 0, seedResizeFrom, etaNoiseSeedDelta: delta = 0 } = this.options;
    const resized = !!seedResizeFrom && seedResizeFrom.width > 0 && seedResizeFrom.height > 0;
    const noiseShape: LatentShape = resized ? [shape[0], Math.floor(seedResizeFrom.height / 8), Math.floor(seedResizeFrom.width / 8)] : shape;
    const sameShape = noiseShape[1] === shape[1] && noiseShape[2] === shape[2];
    const out = new Float32Array(this.imageSize * seeds.length);
    for (const [i, seed] of seeds.entries()) {
      // A1111's `randn(seed, shape)` without a generator seeds a fresh global one: the same numbers as a new generator.
      let subnoise: Float32Array | undefined;
      if (subseeds && subseedStrength !== 0) subnoise = freshRandn(source, i < subseeds.length ? subseeds[i] : 0, noiseShape);
      let noise: Float32Array;
      if (!sameShape) noise = freshRandn(source, seed, noiseShape);
      else {
        noise = new Float32Array(this.imageSize);
        this.generators[i].randn(noise);
      }
      if (subnoise) noise = slerp(subseedStrength, noise, subnoise, noiseShape);
      if (!sameShape) {
        const x = new Float32Array(this.imageSize);
        this.generators[i].randn(x);
        pasteCentred(noise, noiseShape, x, shape);
        noise = x;
      }
      out.set(noise, i * this.imageSize);
    }
    if (delta) this.generators = seeds.map((seed) => createGenerator(source, seed + delta));
    return out;
  }
}

function freshRandn(source: RngSource, seed: number, shape: LatentShape): Float32Array {
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  createGenerator(source, seed).randn(out);
  return out;
}

/**
 * ImageRNG.first's seed resize: the smaller of the two centred in the larger, with Python's
 * floor division for the offsets (an odd difference puts the extra row or column at the end).
 */
function pasteCentred(noise: Float32Array, from: LatentShape, x: Float32Array, to: LatentShape): void {
  const [channels, toH, toW] = to;
  const [, fromH, fromW] = from;
  let dx = Math.floor((toW - fromW) / 2);
  let dy = Math.floor((toH - fromH) / 2);
  const w = dx >= 0 ? fromW : fromW + 2 * dx;
  const h = dy >= 0 ? fromH : fromH + 2 * dy;
  const tx = dx < 0 ? 0 : dx;
  const ty = dy < 0 ? 0 : dy;
  dx = Math.max(-dx, 0);
  dy = Math.max(-dy, 0);
  // Halving the difference leaves the h x w block inside both tensors, so A1111's slices never stop short at an end.
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < h; r++) {
      const src = (c * fromH + dy + r) * fromW + dx;
      const dst = (c * toH + ty + r) * toW + tx;
      x.set(noise.subarray(src, src + w), dst);
    }
  }
}
