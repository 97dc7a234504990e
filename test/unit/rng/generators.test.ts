import * as assert from 'assert';
import { Mt19937 } from '../../../server/src/render/pipeline/rng/mt19937';
import { PhiloxGenerator } from '../../../server/src/render/pipeline/rng/philox';
import { PHILOX_IN_WEBASSEMBLY, philoxWords, philoxWordsJs } from '../../../server/src/render/pipeline/rng/philoxWords';
import { TorchCpuGenerator } from '../../../server/src/render/pipeline/rng/torchCpuRandn';

function randn(generator: { randn(out: Float32Array): void }, n: number): number[] {
  const out = new Float32Array(n);
  generator.randn(out);
  return Array.from(out);
}

function assertClose(actual: number[], expected: number[], tolerance: number) {
  assert.strictEqual(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tolerance, `[${i}] ${v} is not ${expected[i]} (±${tolerance})`));
}

describe('noise generators', () => {
  it("Philox: rng_philox.py's docstring vector for seed 0, shape (3, 4)", () => {
    // The docstring's expected output, which A1111 says matches torch.randn on an NVidia GPU.
    const expected = [
      -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564, -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067,
      2.26550497,
    ];
    assertClose(randn(new PhiloxGenerator(0), 12), expected, 1e-6);
  });

  it('Philox: each call is the next counter, whatever its size; a seed above 2^32 keys with its high word', () => {
    const g = new PhiloxGenerator(0);
    randn(g, 5);
    const second = randn(g, 3);
    const fresh = new PhiloxGenerator(0);
    assert.deepStrictEqual(randn(fresh, 3), randn(new PhiloxGenerator(0), 3));
    assert.notDeepStrictEqual(second, randn(new PhiloxGenerator(0), 3));
    // A call's first elements do not depend on how many it makes.
    assert.deepStrictEqual(randn(new PhiloxGenerator(7), 16).slice(0, 4), randn(new PhiloxGenerator(7), 4));
    // Seed + ENSD can pass 2^32: the key is the whole 64-bit seed, not its low word.
    assert.notDeepStrictEqual(randn(new PhiloxGenerator(2 ** 32 + 5), 4), randn(new PhiloxGenerator(5), 4));
  });

  it('Philox: the WebAssembly kernel gives the JavaScript rounds\' words (offsets, keys with a high word, sizes)', () => {
    assert.ok(PHILOX_IN_WEBASSEMBLY, 'WebAssembly runs in Node');
    for (const [n, offset, k0, k1] of [[1, 0, 0, 0], [1000, 3, 0xdeadbeef, 1], [65536, 0xffffffff, 42, 0xffffffff], [70000, 7, 31337, 0]]) {
      const js = Array.from(philoxWordsJs(n, offset, k0, k1));
      const words = Array.from(philoxWords(n, offset, k0, k1));
      assert.strictEqual(words.length, 2 * n);
      const first = words.findIndex((w, i) => w !== js[i]);
      assert.strictEqual(first, -1, `n ${n}: word ${first} is ${words[first]}, the rounds give ${js[first]}`);
    }
  });

  it("MT19937: the standard's reference outputs (seed 5489: the 10000th is 4123659995; seed 0's first)", () => {
    const mt = new Mt19937(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = mt.nextUint32();
    assert.strictEqual(v, 4123659995);
    assert.strictEqual(new Mt19937(0).nextUint32(), 2357136044);
    // torch keeps the low 32 bits of a larger seed.
    assert.strictEqual(new Mt19937(2 ** 32 + 5).nextUint32(), new Mt19937(5).nextUint32());
  });

  it('torch CPU randn below 16 elements (scalar path): torch.manual_seed(0); torch.randn(2, 3) and seed 42', () => {
    // As torch prints them (4 decimals).
    assertClose(randn(new TorchCpuGenerator(0), 6), [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986], 5e-5);
    assertClose(randn(new TorchCpuGenerator(42), 6), [0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863], 5e-5);
  });

  it("torch CPU randn: the scalar path's second Box–Muller value stays in the generator for its next call", () => {
    const g = new TorchCpuGenerator(0);
    assertClose(randn(g, 3), [1.541, -0.2934, -2.1788], 5e-5);
    // randn(3) used two pairs; the next call starts with the kept value (the same as randn(6)'s fourth).
    assertClose(randn(g, 3), [0.5684, -1.0845, -1.3986], 5e-5);
  });

  it('torch CPU randn from 16 elements (16-wide Box–Muller): torch.manual_seed(0); torch.randn(4, 4)', () => {
    const expected = [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473];
    assertClose(randn(new TorchCpuGenerator(0), 16), expected, 5e-5);
  });

  it('torch CPU randn with a tail: the last 16 are drawn again and the first blocks are unchanged', () => {
    const twenty = randn(new TorchCpuGenerator(0), 20);
    const sixteen = randn(new TorchCpuGenerator(0), 16);
    assert.deepStrictEqual(twenty.slice(0, 4), sixteen.slice(0, 4));
    // Elements 4..15 were redone from 16 fresh uniforms after the 20 first ones.
    assert.notDeepStrictEqual(twenty.slice(4, 16), sixteen.slice(4, 16));
    // Drawn values are standard normal: mean and spread of a large draw.
    const big = randn(new TorchCpuGenerator(1), 100000);
    const mean = big.reduce((a, b) => a + b, 0) / big.length;
    const variance = big.reduce((a, b) => a + (b - mean) ** 2, 0) / big.length;
    assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.02, `mean ${mean}, variance ${variance}`);
  });
});
