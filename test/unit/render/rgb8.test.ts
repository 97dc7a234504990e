import * as assert from 'assert';
import { byteOf, toRgb8 } from '../../../server/src/render/pipeline/rgb8';

describe('toRgb8: the decoded planes to interleaved 8-bit RGB', () => {
  it('a 3x2 image: each pixel takes its value from the same place in the R, G and B planes', () => {
    // Plane values chosen so that every byte is distinct: v = (2b + 1) / 255 - 1 is half a level above
    // byte b, which truncation keeps (255 clamps).
    const bytes = [10, 20, 30, 40, 50, 60, 110, 120, 130, 140, 150, 160, 210, 220, 230, 240, 250, 255];
    const image = Float32Array.from(bytes, (b) => (2 * b + 1) / 255 - 1);
    const rgb = toRgb8(image, 3, 2);
    assert.deepStrictEqual(Array.from(rgb), [10, 110, 210, 20, 120, 220, 30, 130, 230, 40, 140, 240, 50, 150, 250, 60, 160, 255]);
  });

  it('too few values for width x height x 3 is a RangeError naming the count and the size', () => {
    assert.throws(() => toRgb8(new Float32Array(17), 3, 2), (e: unknown) => e instanceof RangeError && e.message === 'toRgb8: 17 values for a 3x2 RGB image');
    assert.strictEqual(toRgb8(new Float32Array(18), 3, 2).length, 18);
  });

  it('bytes: -1 → 0, 1 → 255, 0 → 127 (truncated, not rounded), beyond the range clamps, NaN → 0', () => {
    assert.deepStrictEqual([-1, 1, 0, -3, 3, NaN].map(byteOf), [0, 255, 127, 0, 255, 0]);
  });
});
