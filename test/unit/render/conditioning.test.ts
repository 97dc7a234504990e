import * as assert from 'assert';
import { applyEmphasis, chunkInput, combineGuidance, CONTEXT_LENGTH, stackConds } from '../../../server/src/render/pipeline/conditioning';

const token = (id: number, weight = 1) => ({ id, weight, start: 0, end: 1 });

describe('A1111 conditioning math', () => {
  it('chunk inputs: BOS, tokens, EOS, end-token padding (SD1) or 0 padding (SD2)', () => {
    const sd1 = chunkInput({ tokens: [token(320, 1.1), token(2368)] }, { bos: 49406, eos: 49407, pad: 49407 });
    assert.deepStrictEqual([...sd1.ids.slice(0, 5)], [49406, 320, 2368, 49407, 49407]);
    assert.strictEqual(sd1.ids[76], 49407);
    assert.deepStrictEqual([...sd1.multipliers.slice(0, 4)], [1, Math.fround(1.1), 1, 1]);
    const sd2 = chunkInput({ tokens: [token(320)] }, { bos: 49406, eos: 49407, pad: 0 });
    assert.deepStrictEqual([...sd2.ids.slice(0, 4)], [49406, 320, 49407, 0]);
    const full = chunkInput({ tokens: Array.from({ length: 75 }, () => token(1)) }, { bos: 49406, eos: 49407, pad: 49407 });
    assert.deepStrictEqual([full.ids[0], full.ids[75], full.ids[76]], [49406, 1, 49407]);
  });

  it('emphasis multiplies token states and restores the chunk mean', () => {
    const hidden = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 tokens × width 2, mean 3.5
    const out = applyEmphasis(hidden, Float32Array.from([1, 2, 1]), 2);
    // Weighted: [1,2,6,8,5,6] mean 14/3; scale 3.5/(14/3) = 0.75.
    assert.deepStrictEqual([...out], [0.75, 1.5, 4.5, 6, 3.75, 4.5]);
    const m = out.reduce((a, b) => a + b, 0) / out.length;
    assert.ok(Math.abs(m - 3.5) < 1e-6);
    assert.throws(() => applyEmphasis(hidden, Float32Array.from([1]), 2), /hidden states hold 3 tokens, multipliers 1/);
  });

  it('AND parts padded to the longest by repeating their last vector (stack_conds)', () => {
    // Width 2 so a chunk is 154 numbers; the last vector of `one` is [1.5, 1.75].
    const one = new Float32Array(2 * CONTEXT_LENGTH).fill(1);
    one.set([1.5, 1.75], 2 * CONTEXT_LENGTH - 2);
    const two = new Float32Array(4 * CONTEXT_LENGTH).fill(2);
    const r = stackConds([two, one], 2);
    assert.deepStrictEqual(r.map((c) => c.length), [308, 308]);
    assert.strictEqual(r[0], two);
    assert.deepStrictEqual([...r[1].subarray(152, 158)], [1.5, 1.75, 1.5, 1.75, 1.5, 1.75]);
    assert.deepStrictEqual([...r[1].subarray(306)], [1.5, 1.75]);
  });

  it('guidance with AND weights', () => {
    const uncond = Float32Array.of(1, 1);
    const out = combineGuidance(uncond, [{ output: Float32Array.of(2, 3), weight: 1 }, { output: Float32Array.of(0, 1), weight: 0.5 }], 7);
    // 1 + 7·(1) + 3.5·(−1) = 4.5 ; 1 + 7·2 + 3.5·0 = 15
    assert.deepStrictEqual([...out], [4.5, 15]);
  });
});
