import * as assert from 'assert';
import { ImageRng } from '../../../server/src/render/pipeline/rng/imageRng';
import { createGenerator } from '../../../server/src/render/pipeline/rng/noiseGenerator';
import { slerp } from '../../../server/src/render/pipeline/rng/slerp';

function fresh(source: 'GPU' | 'CPU', seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  createGenerator(source, seed).randn(out);
  return out;
}

describe('ImageRng (A1111 rng.ImageRNG)', () => {
  it("slerp interpolates each (channel, column) over the height, A1111's dim=1", () => {
    // [1, 2, 2]: per column the two vectors are orthogonal, so strength 0.5 gives (low + high)·sin(π/4).
    const low = Float32Array.of(1, 2, 0, 0);
    const high = Float32Array.of(0, 0, 1, 2);
    const out = Array.from(slerp(0.5, low, high, [1, 2, 2]));
    const s = Math.SQRT1_2;
    [s, 2 * s, s, 2 * s].forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-6, `${out}`));
  });

  it("slerp's near-parallel fallback weighs low by val and high by 1 − val (A1111's quirk)", () => {
    const low = Float32Array.of(1, 2, 3, 4);
    const high = low.map((v) => v * 1.001);
    // Parallel: mean dot 1 > 0.9995, so low·0.9 + high·0.1 = low·1.0001 (a true lerp would give low·1.0009).
    const out = slerp(0.9, low, high, [1, 4, 1]);
    out.forEach((v, i) => assert.ok(Math.abs(v - low[i] * 1.0001) < 1e-6, `${v}`));
  });

  it('first() is the seed\'s first draw; next() the following draws, per image, seeds not shared', () => {
    const rng = new ImageRng({ source: 'CPU', shape: [4, 2, 3], seeds: [5, 9] });
    const g5 = createGenerator('CPU', 5);
    const g9 = createGenerator('CPU', 9);
    for (let draw = 0; draw < 3; draw++) {
      const batch = rng.next();
      const a = new Float32Array(24);
      const b = new Float32Array(24);
      g5.randn(a);
      g9.randn(b);
      assert.deepStrictEqual(batch, Float32Array.from([...a, ...b]), `draw ${draw}`);
    }
    assert.strictEqual(rng.draws, 3);
  });

  it('fill (the samplers\' RandnFill) takes the next draw and refuses a latent of the wrong size', () => {
    const rng = new ImageRng({ source: 'GPU', shape: [4, 2, 2], seeds: [1] });
    const first = new Float32Array(16);
    rng.fill(first);
    assert.deepStrictEqual(first, fresh('GPU', 1, 16));
    const second = new Float32Array(16);
    rng.fill(second);
    assert.notDeepStrictEqual(second, first);
    assert.throws(() => rng.fill(new Float32Array(32)), /noise of 32 values asked for a batch of 1 latents of 16/);
  });

  it('seed resize from a larger size crops the middle, with Python\'s floor division on odd differences', () => {
    // 8x8 latent from 72x72 (9x9): dx = (8 − 9) // 2 = −1, so the 7x7 window from (1, 1) goes to (0, 0);
    // the last row and column keep the seed's own 8x8 noise.
    const rng = new ImageRng({ source: 'CPU', shape: [4, 8, 8], seeds: [3], seedResizeFrom: { width: 72, height: 72 } });
    const x = rng.next();
    const big = fresh('CPU', 3, 4 * 9 * 9);
    const own = fresh('CPU', 3, 4 * 8 * 8);
    for (let c = 0; c < 4; c++) {
      for (let y = 0; y < 8; y++) {
        for (let col = 0; col < 8; col++) {
          const expected = y < 7 && col < 7 ? big[(c * 9 + y + 1) * 9 + col + 1] : own[(c * 8 + y) * 8 + col];
          assert.strictEqual(x[(c * 8 + y) * 8 + col], expected, `${c},${y},${col}`);
        }
      }
    }
  });

  it('a seed resize equal to the size, or with a side of 0, changes nothing', () => {
    const plain = new ImageRng({ source: 'GPU', shape: [4, 8, 8], seeds: [3] }).next();
    assert.deepStrictEqual(new ImageRng({ source: 'GPU', shape: [4, 8, 8], seeds: [3], seedResizeFrom: { width: 64, height: 64 } }).next(), plain);
    assert.deepStrictEqual(new ImageRng({ source: 'GPU', shape: [4, 8, 8], seeds: [3], seedResizeFrom: { width: 0, height: 96 } }).next(), plain);
  });

  it('an image past the end of the variation seeds gets variation seed 0, as in A1111', () => {
    const options = { source: 'CPU' as const, shape: [4, 4, 4] as const, subseedStrength: 1 };
    const batch = new ImageRng({ ...options, seeds: [10, 11], subseeds: [20] }).next();
    assert.deepStrictEqual(batch.subarray(0, 64), fresh('CPU', 20, 64));
    assert.deepStrictEqual(batch.subarray(64), fresh('CPU', 0, 64));
  });
});
