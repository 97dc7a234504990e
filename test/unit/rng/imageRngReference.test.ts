import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ImageRng, LatentShape } from '../../../server/src/render/pipeline/rng/imageRng';

/*
 * The batch noise of `RNG: CPU` against A1111's own ImageRNG run on torch: test/golden/image_rng.json
 * is what scripts/golden/image_rng.py (modules/rng.py's first()/next() transcribed, Debian's torch
 * 1.13) gives for seed resizes that crop one axis and pad the other, one axis alone, a variation seed
 * on resized noise, and ENSD over a batch. torch's normal_fill calls glibc's logf/cosf/sinf, a few
 * float32 ulps from the engine's (see torchRandnReference.test.ts), and A1111's slerp runs in
 * float32 where the engine's runs in float64: values agree within 2e-6 (the largest difference at
 * the last regeneration was 2.7e-7, in the variation case); a row or column pasted one place off, or a draw from the
 * wrong generator, moves them by about 1.
 */

interface GoldenCase {
  name: string;
  shape: [number, number, number];
  seeds: number[];
  subseeds: number[] | null;
  subseedStrength: number;
  seedResizeFrom: { width: number; height: number };
  etaNoiseSeedDelta: number;
  draws: number[][];
}

const GOLDEN: { torch: string; cases: GoldenCase[] } = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '../../../../test/golden/image_rng.json'), 'utf8'),
);

const TOLERANCE = 2e-6;

function rngOf(c: GoldenCase): ImageRng {
  return new ImageRng({
    source: 'CPU',
    shape: c.shape as LatentShape,
    seeds: c.seeds,
    subseeds: c.subseeds ?? undefined,
    subseedStrength: c.subseedStrength,
    seedResizeFrom: c.seedResizeFrom,
    etaNoiseSeedDelta: c.etaNoiseSeedDelta,
  });
}

function assertDraw(actual: Float32Array, expected: number[], shape: readonly number[], where: string) {
  assert.strictEqual(actual.length, expected.length, `${where}: length`);
  const [, h, w] = shape;
  expected.forEach((want, i) => {
    const at = `${where}, image ${Math.floor(i / (4 * h * w))} channel ${Math.floor(i / (h * w)) % 4} row ${Math.floor(i / w) % h} column ${i % w}`;
    assert.ok(Math.abs(actual[i] - want) <= TOLERANCE, `${at}: ${actual[i]}, A1111 ${want}`);
  });
}

describe(`ImageRng against A1111's ImageRNG on torch ${GOLDEN.torch} (test/golden/image_rng.json)`, () => {
  for (const c of GOLDEN.cases) {
    it(`${c.name}: ${c.draws.length} draw(s) of [${c.seeds.length}, ${c.shape.join(', ')}]`, () => {
      const rng = rngOf(c);
      c.draws.forEach((draw, k) => assertDraw(rng.next(), draw, c.shape, `draw ${k + 1}`));
    });
  }

  it('the samplers\' fill takes a whole batch\'s draw (two images), the same as next()', () => {
    const c = GOLDEN.cases.find((g) => g.seeds.length === 2)!;
    const rng = rngOf(c);
    const imageSize = c.shape[0] * c.shape[1] * c.shape[2];
    for (const [k, draw] of c.draws.entries()) {
      const latent = new Float32Array(2 * imageSize);
      rng.fill(latent);
      assertDraw(latent, draw, c.shape, `fill ${k + 1}`);
    }
  });
});
