import * as assert from 'assert';
import { applyEmphasis, chunkInput, combineGuidance, concat, CONTEXT_LENGTH, stackConds } from '../../../server/src/render/pipeline/conditioning';

/*
 * The conditioning numbers a render feeds the text encoder and the UNet, in full where
 * conditioning.test.ts checks a few positions, and at float32 precision where its values are exact
 * fractions. Written from the mutants `npm run mutation` found no test for. Float values are from numpy
 * float32 (python3-numpy 2.4), the steps of A1111's `sd_hijack_clip.py` emphasis and
 * `combine_denoised`: each product and sum rounded to float32, the means summed in float64.
 */

const token = (id: number, weight = 1) => ({ id, weight, start: 0, end: 1 });
const SD1 = { bos: 49406, eos: 49407, pad: 49407 };
const SD2 = { bos: 49406, eos: 49407, pad: 0 };

describe('A1111 conditioning math: every position and float32 rounding', () => {
  it('an SD1 chunk is BOS, the tokens, then end tokens to 77; multipliers 1 but for the tokens', () => {
    const input = chunkInput({ tokens: [token(320, 1.1), token(2368, 0.5)] }, SD1);
    assert.deepStrictEqual([...input.ids], [49406, 320, 2368, ...new Array<number>(74).fill(49407)]);
    assert.deepStrictEqual([...input.multipliers], [1, Math.fround(1.1), 0.5, ...new Array<number>(74).fill(1)]);
  });

  it('an SD2 chunk pads with 0 after the one end token', () => {
    const input = chunkInput({ tokens: [token(320, 1.2)] }, SD2);
    assert.deepStrictEqual([...input.ids], [49406, 320, 49407, ...new Array<number>(74).fill(0)]);
    assert.deepStrictEqual([...input.multipliers], [1, Math.fround(1.2), ...new Array<number>(75).fill(1)]);
  });

  it('an empty chunk (the empty negative prompt) is BOS, EOS and padding', () => {
    assert.deepStrictEqual([...chunkInput({ tokens: [] }, SD1).ids], [49406, ...new Array<number>(76).fill(49407)]);
    assert.deepStrictEqual([...chunkInput({ tokens: [] }, SD2).ids], [49406, 49407, ...new Array<number>(75).fill(0)]);
  });

  it('a chunk of more than 75 tokens keeps the first 75: the end token and multiplier 1 stay at 76', () => {
    const tokens = Array.from({ length: 76 }, (_, i) => token(1000 + i, 2));
    const input = chunkInput({ tokens }, SD2);
    assert.strictEqual(input.ids.length, CONTEXT_LENGTH);
    assert.deepStrictEqual([input.ids[0], input.ids[1], input.ids[75], input.ids[76]], [49406, 1000, 1074, 49407]);
    assert.deepStrictEqual([input.multipliers[0], input.multipliers[75], input.multipliers[76]], [1, 2, 1]);
  });

  it('emphasis in float32: weights 1, 1.1, 0.9 over three tokens of width 2', () => {
    const out = applyEmphasis(Float32Array.from([0.1, 0.2, 0.3, 0.7, 1.1, 1.3]), Float32Array.from([1, 1.1, 0.9]), 2);
    assert.deepStrictEqual(
      [...out],
      [0.10393259674310684, 0.20786519348621368, 0.3429775834083557, 0.8002809882164001, 1.0289326906204224, 1.2160112857818604],
    );
  });

  it('guidance in float32: scale 7.5, AND weights 1 and 0.3', () => {
    const out = combineGuidance(
      Float32Array.of(0.1, -0.3),
      [
        { output: Float32Array.of(0.7, 0.2), weight: 1 },
        { output: Float32Array.of(-0.4, 0.9), weight: 0.3 },
      ],
      7.5,
    );
    assert.deepStrictEqual([...out], [3.47499942779541, 6.150000095367432]);
  });

  it('guidance leaves the unconditional output untouched (it is reused by the next AND part)', () => {
    const uncond = Float32Array.of(1, 2);
    combineGuidance(uncond, [{ output: Float32Array.of(3, 3), weight: 1 }], 2);
    assert.deepStrictEqual([...uncond], [1, 2]);
  });

  it('stack_conds pads each shorter part by its own last vector, longest first or last', () => {
    const a = Float32Array.of(1, 2, 3, 4);
    const b = Float32Array.of(5, 6, 7, 8, 9, 10, 11, 12);
    const c = Float32Array.of(13, 14);
    const [pa, pb, pc] = stackConds([a, b, c], 2);
    assert.deepStrictEqual([...pa], [1, 2, 3, 4, 3, 4, 3, 4]);
    assert.strictEqual(pb, b);
    assert.deepStrictEqual([...pc], [13, 14, 13, 14, 13, 14, 13, 14]);
  });

  it('concat joins the chunks of one prompt in order', () => {
    assert.deepStrictEqual([...concat([Float32Array.of(1, 2), Float32Array.of(), Float32Array.of(3)])], [1, 2, 3]);
    assert.strictEqual(concat([]).length, 0);
  });
});
