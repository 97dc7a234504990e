import * as assert from 'assert';
import { boxMullerFirst, PhiloxGenerator } from '../../../server/src/render/pipeline/rng/philox';

/*
 * A1111's NV/GPU noise (modules/rng_philox.py) against scripts/golden/philox.py, a numpy transcription
 * of that file which gives, bit for bit, what running rng_philox.py itself gives under numpy 1.24
 * (checked for seeds 0, 1, 42, 500, 2^32 + 7, 2^53 − 1, calls of 1024 values), and which checks
 * itself against the file's docstring vector. The values are float32 written to 9 significant
 * digits, so Math.fround of each is the exact float32 the generator must give.
 */

function randn(generator: PhiloxGenerator, n: number): number[] {
  const out = new Float32Array(n);
  generator.randn(out);
  return Array.from(out);
}

function float32s(values: number[]): number[] {
  return values.map(Math.fround);
}

describe('Philox (A1111 NV): successive calls and Box–Muller, bit for bit (scripts/golden/philox.py)', () => {
  // Three calls of 6, 6 and 2 values on one generator; A1111's offset counts the calls.
  const calls: { seed: number; first: number[]; second: number[]; third: number[] }[] = [
    {
      seed: 0,
      first: [-0.924662411, -0.425343961, -2.6438458, 0.145183876, -0.120866507, -0.579725683],
      second: [0.180825889, -0.552262723, 0.923813403, -0.734970331, 1.37999463, 0.86763072],
      third: [2.54409719, -0.716348946],
    },
    {
      seed: 1,
      first: [-0.296277821, 2.67644811, -0.140846401, -0.844095051, 0.2905384, -0.283830822],
      second: [-0.633983672, -0.643131256, -0.642013609, -1.44710088, 0.444676995, -0.607262552],
      third: [-0.580955327, -1.02162683],
    },
    {
      // 2^32 + 7: key words (7, 1).
      seed: 4294967303,
      first: [-0.282735229, -1.01280427, 0.00952882599, 0.447084874, 1.58035862, 0.953698158],
      second: [-2.02036953, 0.651046097, -1.4301461, 1.0568589, -0.0266573038, 0.501647532],
      third: [0.188909501, -0.457703859],
    },
    {
      // 2^53 − 1, the largest seed a number holds exactly: key words (0xffffffff, 0x1fffff).
      seed: 9007199254740991,
      first: [-0.600362182, 0.545805216, 0.466874838, 0.174878463, -0.0957461745, 0.403969169],
      second: [1.48620903, -2.17638373, 1.36708319, 1.06112921, 0.40370959, -0.401841402],
      third: [0.464530826, -0.65272814],
    },
  ];

  for (const c of calls) {
    it(`seed ${c.seed}: the first, second and third call are A1111's calls 0, 1 and 2`, () => {
      const generator = new PhiloxGenerator(c.seed);
      assert.deepStrictEqual(randn(generator, 6), float32s(c.first));
      assert.deepStrictEqual(randn(generator, 6), float32s(c.second));
      assert.deepStrictEqual(randn(generator, 2), float32s(c.third));
    });
  }

  it("a call's size does not move the next call: a 1-value call, then the second call's 6", () => {
    const generator = new PhiloxGenerator(1);
    assert.deepStrictEqual(randn(generator, 1), float32s([-0.296277821]));
    assert.deepStrictEqual(randn(generator, 6), float32s(calls[1].second));
  });

  // u = x·2^-32 + 2^-33 and v = y·2π·2^-32 + π·2^-32 (float32 constants, float64 sums): the half
  // steps are invisible for most words but decide the value at these.
  const boxMuller: [x: number, y: number, value: number, why: string][] = [
    [0, 0, 4.94737362e-9, 'u and v are the half steps alone'],
    [0, 0xffffffff, 1.17765649e-6, 'v half a step below 2π (the float32 constant makes it just above)'],
    [0, 0x40000000, 6.76370573, 'u the half step alone, v ≈ π/2: about the largest value the generator can give'],
    [1, 0, 4.82710272e-9, 'u = 1.5 steps'],
    [0xffffffff, 0x40000000, 1.52587891e-5, 'u half a step below 1'],
    [0x80000000, 0, 8.61227201e-10, 'u ≈ 1/2'],
    [0x12345678, 0xffffffff, 4.00349762e-7, 'v just above 2π'],
    [0x9abcdef0, 0xc0000000, -1.00343966, 'v ≈ 3π/2'],
  ];
  for (const [x, y, value, why] of boxMuller) {
    it(`Box–Muller of words (0x${x.toString(16)}, 0x${y.toString(16)}): ${why}`, () => {
      assert.strictEqual(Math.fround(boxMullerFirst(x, y)), Math.fround(value));
    });
  }
});
