import * as assert from 'assert';
import { noiseInfotextParameters } from '../../../server/src/render/pipeline/rng/noiseInfotext';
import { NoiseParameters } from '../../../server/src/render/pipeline/rng/noiseParameters';
import { batchSeeds, resolveSeed } from '../../../server/src/render/pipeline/rng/seeds';
import { slerp } from '../../../server/src/render/pipeline/rng/slerp';

/*
 * The seeds a batch renders with, the variation-seed blend and the noise lines of the infotext, as
 * A1111 writes and computes them (processing.py, rng.py, create_infotext). Written from the mutants
 * `npm run mutation` found no test for.
 */

describe('Noise: seeds, variation blend and infotext, exactly', () => {
  it('seed -1 (or none) becomes random.randrange(4294967294); 0 and other seeds are kept, fractions floored', () => {
    const random = Math.random;
    try {
      Math.random = () => 0.5;
      assert.strictEqual(resolveSeed(-1), 2147483647);
      assert.strictEqual(resolveSeed(undefined), 2147483647);
      Math.random = () => 0.9999999999;
      assert.strictEqual(resolveSeed(-1), 4294967293);
    } finally {
      Math.random = random;
    }
    assert.strictEqual(resolveSeed(0), 0);
    assert.strictEqual(resolveSeed(1234.7), 1234);
    assert.strictEqual(resolveSeed(2 ** 40), 2 ** 40);
  });

  it('a batch counts seeds and variation seeds up from the first', () => {
    assert.deepStrictEqual(batchSeeds(100, 7, 0, 3), { seeds: [100, 101, 102], subseeds: [7, 8, 9] });
  });

  it('with a variation strength every image keeps the seed and only the variation seed counts up', () => {
    assert.deepStrictEqual(batchSeeds(100, 7, 0.25, 3), { seeds: [100, 100, 100], subseeds: [7, 8, 9] });
  });

  it('slerp on 2 channels × 2 rows × 2 columns, each column its own angle (numpy, A1111 rng.slerp)', () => {
    const low = Float32Array.from([1, 2, 3, -1, 0.5, 1, -2, 2]);
    const high = Float32Array.from([2, 1, 1, -2, 1, 0.5, -1, 3]);
    // Dot products per (channel, column): 0.7071, 0.8, 0.8575, 0.9558 (mean 0.83: the spherical branch).
    assert.deepStrictEqual(
      [...slerp(0.3, low, high, [2, 2, 2])],
      [1.3992077112197876, 1.770993709564209, 2.546915292739868, -1.3651305437088013, 0.6726667881011963, 0.8573929667472839, -1.7494549751281738, 2.3229761123657227],
    );
  });

  const noise: NoiseParameters = { source: 'GPU', subseed: 9, subseedStrength: 0, seedResizeFrom: undefined, etaNoiseSeedDelta: 31337 };
  const line = (n: NoiseParameters, sampler: string, eta?: number) =>
    Object.fromEntries(noiseInfotextParameters(n, sampler, eta).filter(([, v]) => v !== undefined));

  it('ENSD is written for each ancestral or DPM fast/adaptive sampler, not for others', () => {
    for (const sampler of ['Euler a', 'DPM2 a', 'DPM++ 2S a', 'DPM fast', 'DPM adaptive']) {
      assert.deepStrictEqual(line(noise, sampler), { ENSD: 31337 }, sampler);
    }
    assert.deepStrictEqual(line(noise, 'DPM++ 2M'), {});
    assert.deepStrictEqual(line(noise, ''), {});
    // DDIM's eta defaults to 0: ENSD only with an eta set.
    assert.deepStrictEqual(line(noise, 'DDIM'), {});
    assert.deepStrictEqual(line(noise, 'DDIM', 0.5), { ENSD: 31337 });
  });

  it('no ENSD when the delta is 0, no variation seed without a strength', () => {
    assert.deepStrictEqual(line({ ...noise, etaNoiseSeedDelta: 0 }, 'Euler a'), {});
    assert.deepStrictEqual(line({ ...noise, etaNoiseSeedDelta: 0, subseedStrength: 0.5, source: 'CPU' }, 'Euler'), {
      'Variation seed': 9,
      'Variation seed strength': 0.5,
      RNG: 'CPU',
    });
  });
});
