import * as assert from 'assert';
import * as ort from 'onnxruntime-node';
import { MergeScratch } from '../../../server/src/render/merge/mergeScratch';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { edgeAndRandomFloats, everyOrderedHalf, halfValue, isQuietHalfNaN, nearestHalf } from './halfReference';
import { random } from './loraFiles';

/** fp32 `t + f·d` as the merge defines it: factor, product and sum each rounded to fp32. */
const expected = (t: number, d: number, f: number) => Math.fround(t + Math.fround(Math.fround(f) * d));

describe('MergeScratch: the buffers weights are merged in, and w += f·Δ', () => {
  it('adds f·Δ in fp32 in place, for lengths that are and are not a multiple of four', () => {
    const scratch = new MergeScratch();
    // 32775 and 65536 span several of the pieces a delta is copied in by (16384 floats), the first with a part piece.
    for (const length of [1, 4, 7, 1003, 32775, 65536]) {
      const [region] = scratch.reserve(length * 4, 1);
      const target = scratch.floats(region, length);
      const base = random(length, length);
      const delta = random(length, length + 1);
      target.set(base);
      scratch.addScaled(target, delta, 0.3);
      for (let i = 0; i < length; i++) assert.strictEqual(target[i], expected(base[i], delta[i], 0.3), `length ${length}, value ${i}`);
      // A second term adds onto the first.
      scratch.addScaled(target, delta, -0.3);
      for (let i = 0; i < length; i++) assert.strictEqual(target[i], expected(expected(base[i], delta[i], 0.3), delta[i], -0.3));
    }
  });

  it('regions stay apart, survive the memory growing, and an array outside them is added in JS with the same rounding', () => {
    const scratch = new MergeScratch();
    const small = scratch.reserve(1000, 3);
    assert.deepStrictEqual(small.map((r) => r.byteOffset), [0, 1024, 2048]);
    const regions = scratch.reserve(5 * 2 ** 20, 3);
    assert.deepStrictEqual(regions.map((r) => r.byteLength), [5 * 2 ** 20, 5 * 2 ** 20, 5 * 2 ** 20]);
    const [a, b] = [scratch.floats(regions[0], 1000), scratch.floats(regions[1], 1000)];
    a.fill(1);
    b.fill(2);
    scratch.addScaled(a, new Float32Array(1000).fill(1), 0.5);
    assert.deepStrictEqual([a[0], a[999], b[0]], [1.5, 1.5, 2]);
    const outside = random(1001, 5);
    const copy = outside.slice();
    const delta = random(1001, 6);
    scratch.addScaled(outside, delta, 0.7);
    for (let i = 0; i < 1001; i++) assert.strictEqual(outside[i], expected(copy[i], delta[i], 0.7));
  });

  it('a delta of another length is refused with both lengths', () => {
    const scratch = new MergeScratch();
    const target = scratch.floats(scratch.reserve(64, 1)[0], 16);
    assert.throws(() => scratch.addScaled(target, new Float32Array(15), 1), /a delta of 15 values for a weight of 16/);
  });

  describe('addToHalf: an fp16 weight plus its fp32 sum, rounded once in WebAssembly', function () {
    // Exhaustive checks against a reference that searches the halves, on a shared 2-core machine.
    this.timeout(20_000);
    /** `halves` and `sums` copied into a fresh scratch's memory, added there, and the halves read back. */
    const addInMemory = (halves: ArrayLike<number>, sums: ArrayLike<number>) => {
      const scratch = new MergeScratch();
      const [h, s] = scratch.reserve(sums.length * 4, 2);
      const bits = new Uint16Array(h.buffer, h.byteOffset, halves.length);
      const floats = scratch.floats(s, sums.length);
      bits.set(halves);
      floats.set(sums);
      scratch.addToHalf(bits, floats);
      return bits.slice();
    };
    const hex = (bits: number) => `0x${bits.toString(16)}`;

    it('every half plus −0 comes back as it was; NaNs come back quiet NaNs', () => {
      const all = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
      const out = addInMemory(all, new Float32Array(65536).fill(-0));
      const ordered = new Set(everyOrderedHalf());
      for (let bits = 0; bits < 65536; bits++) {
        if (ordered.has(bits)) assert.strictEqual(out[bits], bits, hex(bits));
        else assert.ok(isQuietHalfNaN(out[bits]), `${hex(bits)} → ${hex(out[bits])}`);
      }
    });

    it('−0 plus a float is that float rounded to nearest even: every tie, edge, subnormal, overflow, and a million random floats', () => {
      const values = edgeAndRandomFloats(1_000_000, 3);
      const out = addInMemory(new Uint16Array(values.length).fill(0x8000), values);
      for (let i = 0; i < values.length; i++) {
        if (Number.isNaN(values[i])) assert.ok(isQuietHalfNaN(out[i]), `NaN → ${hex(out[i])}`);
        else assert.strictEqual(out[i], nearestHalf(values[i]), `${values[i]} → ${hex(out[i])}, not ${hex(nearestHalf(values[i]))}`);
      }
    });

    it('every finite half plus a random float is their fp32 sum rounded once', () => {
      const halves = everyOrderedHalf().filter((bits) => (bits & 0x7fff) !== 0x7c00);
      // Sums near each half's own size, so that most results neither stay put nor swamp it.
      const sums = Float32Array.from(halves, (bits, i) => halfValue(bits) * (((i * 7919) % 2001) / 1000 - 1) + (i % 3) * 2 ** -20);
      const out = addInMemory(halves, sums);
      halves.forEach((bits, i) => {
        const expected = nearestHalf(Math.fround(halfValue(bits) + sums[i]));
        assert.strictEqual(out[i], expected, `${hex(bits)} + ${sums[i]} → ${hex(out[i])}, not ${hex(expected)}`);
      });
    });

    it("rounds as onnxruntime's Cast to float16 does, on every tie and edge and 300 000 random floats", async () => {
      const values = edgeAndRandomFloats(300_000, 5);
      const builder = new ModelBuilder(17, 'cast_to_half');
      builder.graph.input('x', 'float32', ['n']);
      builder.graph.node('Cast', ['x'], ['y'], { to: 10 });
      builder.graph.output('y', 'float16', ['n']);
      const session = await ort.InferenceSession.create(builder.serialize().model);
      try {
        const cast = (await session.run({ x: new ort.Tensor('float32', values, [values.length]) })).y.data as Uint16Array;
        const out = addInMemory(new Uint16Array(values.length).fill(0x8000), values);
        for (let i = 0; i < values.length; i++) {
          if (Number.isNaN(values[i])) assert.ok(isQuietHalfNaN(out[i]) && isQuietHalfNaN(cast[i]));
          else assert.strictEqual(out[i], cast[i], `${values[i]}: ${hex(out[i])}, Cast ${hex(cast[i])}`);
        }
      } finally {
        await session.release();
      }
    });

    it('views outside its memory, and the values past the last eight, get the same bits in JS', () => {
      const pool = edgeAndRandomFloats(1003, 9).subarray(-1003);
      for (const length of [1, 7, 8, 9, 1003]) {
        const values = pool.subarray(0, length);
        const halves = Uint16Array.from({ length }, (_, i) => (i * 4099) & 0x7bff);
        const inMemory = addInMemory(halves, values);
        const outside = halves.slice();
        new MergeScratch().addToHalf(outside, values);
        assert.deepStrictEqual([...outside], [...inMemory], `length ${length}`);
        halves.forEach((bits, i) => {
          const expected = nearestHalf(Math.fround(halfValue(bits) + values[i]));
          if (Number.isNaN(values[i])) assert.ok(isQuietHalfNaN(inMemory[i]), `length ${length}, value ${i}: NaN → ${hex(inMemory[i])}`);
          else assert.strictEqual(inMemory[i], expected, `length ${length}, value ${i}`);
        });
      }
    });

    it('addScaledToHalf (one term) gives the bits of addScaled onto a zeroed sum and then addToHalf, in memory and outside it', () => {
      const length = 40_003; // several staged pieces of 16384, and a tail past the last eight
      const halves = Uint16Array.from({ length }, (_, i) => (i % 5 === 0 ? 0x8000 : (i * 7919) & 0xfbff)); // −0 and finite halves
      const delta = edgeAndRandomFloats(length, 11).subarray(-length).map((v, i) => (i % 7 === 0 ? -0 : v * 2 ** -8));
      for (const factor of [0.7, -1.3, 1e-3]) {
        const scratch = new MergeScratch();
        const [h, s] = scratch.reserve(length * 4, 2);
        const twoPasses = new Uint16Array(h.buffer, h.byteOffset, length);
        twoPasses.set(halves);
        const sum = scratch.floats(s, length).fill(0);
        scratch.addScaled(sum, delta, factor);
        scratch.addToHalf(twoPasses, sum);
        const onePass = new Uint16Array(s.buffer, s.byteOffset, length);
        onePass.set(halves);
        scratch.addScaledToHalf(onePass, delta, factor);
        const outside = halves.slice();
        scratch.addScaledToHalf(outside, delta, factor);
        const f = Math.fround(factor);
        for (let i = 0; i < length; i++) {
          const expected = nearestHalf(Math.fround(halfValue(halves[i]) + (Math.fround(f * delta[i]) + 0)));
          if (Number.isNaN(halfValue(expected))) continue; // none here: the deltas are scaled into fp16's range
          assert.strictEqual(onePass[i], expected, `factor ${factor}, value ${i}: ${hex(halves[i])} + ${f}·${delta[i]}`);
          assert.strictEqual(twoPasses[i], expected, `two passes, factor ${factor}, value ${i}`);
          assert.strictEqual(outside[i], expected, `outside, factor ${factor}, value ${i}`);
        }
      }
      // −0 plus −0·f: +0, as a sum started from 0 gives.
      const scratch = new MergeScratch();
      const zeros = new Uint16Array(scratch.reserve(64, 1)[0].buffer, 0, 16).fill(0x8000);
      scratch.addScaledToHalf(zeros, new Float32Array(16).fill(-0), 1);
      assert.deepStrictEqual([...zeros], new Array(16).fill(0));
    });

    it('a sum of another length is refused with both lengths', () => {
      assert.throws(() => new MergeScratch().addToHalf(new Uint16Array(16), new Float32Array(15)), /a sum of 15 values for a weight of 16/);
      assert.throws(() => new MergeScratch().addScaledToHalf(new Uint16Array(16), new Float32Array(17), 1), /a delta of 17 values for a weight of 16/);
    });
  });
});
