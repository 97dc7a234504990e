import * as assert from 'assert';
import { floatToHalf, fromFloat16, halfToFloat, halfToFloatTable, toFloat16 } from '../../../server/src/render/onnx/half';
import { edgeAndRandomFloats, everyOrderedHalf, halfValue, isQuietHalfNaN, nearestHalf } from './halfReference';

describe('half.ts: the fp16 codec', function () {
  // Exhaustive checks against a reference that searches the halves, on a shared 2-core machine.
  this.timeout(20_000);
  it('decodes every half to its value (signed zeros, subnormals, infinities; NaN for every NaN)', () => {
    const table = halfToFloatTable();
    for (let bits = 0; bits < 65536; bits++) {
      const expected = halfValue(bits);
      assert.ok(Object.is(halfToFloat(bits), expected), `0x${bits.toString(16)}: ${halfToFloat(bits)}, not ${expected}`);
      assert.ok(Object.is(table[bits], expected), `table 0x${bits.toString(16)}`);
    }
    assert.deepStrictEqual([...fromFloat16(Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x7bff, 0xfc00))], [1, -2, 2 ** -24, 65504, -Infinity]);
  });

  it('every half that is not a NaN encodes back to its own bits; a NaN to a quiet NaN of its sign', () => {
    for (const bits of everyOrderedHalf()) assert.strictEqual(floatToHalf(halfToFloat(bits)), bits, `0x${bits.toString(16)}`);
    assert.strictEqual(floatToHalf(NaN), 0x7e00);
    assert.strictEqual(floatToHalf(halfToFloat(0x7c01)), 0x7e00);
  });

  it('rounds floats to the nearest half, ties to even, at every tie, edge and 200 000 random floats', () => {
    const values = edgeAndRandomFloats(200_000, 7);
    const halves = toFloat16(values);
    for (let i = 0; i < values.length; i++) {
      if (Number.isNaN(values[i])) assert.ok(isQuietHalfNaN(halves[i]), `NaN → 0x${halves[i].toString(16)}`);
      else assert.strictEqual(halves[i], nearestHalf(values[i]), `${values[i]} → 0x${halves[i].toString(16)}, not 0x${nearestHalf(values[i]).toString(16)}`);
    }
    // Named cases: ties to even (up at an odd neighbour), subnormals, the overflow threshold, signed zero.
    const cases: [number, number][] = [
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [Math.fround(2 ** -25 + 2 ** -40), 0x0001],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [-0, 0x8000],
      [-1e-10, 0x8000],
    ];
    assert.deepStrictEqual(cases.map(([v]) => floatToHalf(v)), cases.map(([, bits]) => bits));
  });
});
