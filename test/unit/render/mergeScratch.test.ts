import * as assert from 'assert';
import { MergeScratch } from '../../../server/src/render/merge/mergeScratch';
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
});
