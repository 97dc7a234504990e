import * as assert from 'assert';
import { ImageRng } from '../../../server/src/render/pipeline/rng/imageRng';
import { createGenerator } from '../../../server/src/render/pipeline/rng/noiseGenerator';
import { slerp } from '../../../server/src/render/pipeline/rng/slerp';

function fresh(source: 'GPU' | 'CPU', seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  createGenerator(source, seed).randn(out);
  return out;
}

describe('ImageRng: options A1111 reads as "off"', () => {
  it('a seed resize with a side of 0 is no resize: the variation seed still blends the whole latent', () => {
    // [4, 4, 4]: 32x32. A1111 resizes only when both sides are above 0 (ImageRNG.first's noise_shape).
    const options = { source: 'CPU' as const, shape: [4, 4, 4] as const, seeds: [3], subseeds: [8], subseedStrength: 0.5 };
    const expected = slerp(0.5, fresh('CPU', 3, 64), fresh('CPU', 8, 64), [4, 4, 4]);
    assert.deepStrictEqual(new ImageRng(options).next(), expected);
    assert.deepStrictEqual(new ImageRng({ ...options, seedResizeFrom: { width: 0, height: 48 } }).next(), expected);
    assert.deepStrictEqual(new ImageRng({ ...options, seedResizeFrom: { width: 48, height: 0 } }).next(), expected);
  });

  it('variation strength 0 leaves the seed\'s noise as it is, even where slerp would divide 0 by 0 (a one-row latent)', () => {
    // Size 64x8: each (channel, column) vector has one value, so slerp's angle is 0 or π and
    // sin(ω)/sin(ω) is 0/0 for half of them; A1111 slerps only when the strength is not 0.
    const x = new ImageRng({ source: 'CPU', shape: [4, 1, 8], seeds: [21], subseeds: [22], subseedStrength: 0 }).next();
    assert.deepStrictEqual(x, fresh('CPU', 21, 32));
  });

  it('with a variation seed only the first draw is blended: the ancestral draws are the seed generator\'s next ones', () => {
    const rng = new ImageRng({ source: 'GPU', shape: [4, 2, 2], seeds: [5], subseeds: [6], subseedStrength: 0.4 });
    const own = createGenerator('GPU', 5);
    const first = new Float32Array(16);
    own.randn(first);
    assert.deepStrictEqual(rng.next(), slerp(0.4, first, fresh('GPU', 6, 16), [4, 2, 2]));
    for (let draw = 2; draw <= 3; draw++) {
      const expected = new Float32Array(16);
      own.randn(expected);
      assert.deepStrictEqual(rng.next(), expected, `draw ${draw}`);
    }
  });

  it('RNG: CPU is torch\'s generator and GPU/NV the Philox one (seed 0\'s first values)', () => {
    // torch.manual_seed(0); torch.randn(3) and rng_philox.py's docstring vector.
    const cpu = Array.from(new ImageRng({ source: 'CPU', shape: [1, 1, 3], seeds: [0] }).next());
    [1.541, -0.2934, -2.1788].forEach((v, i) => assert.ok(Math.abs(cpu[i] - v) < 5e-5, `CPU ${cpu}`));
    for (const source of ['GPU', 'NV'] as const) {
      const philox = Array.from(new ImageRng({ source, shape: [1, 1, 3], seeds: [0] }).next());
      [-0.92466259, -0.42534415, -2.6438457].forEach((v, i) => assert.ok(Math.abs(philox[i] - v) < 1e-6, `${source} ${philox}`));
    }
  });
});
