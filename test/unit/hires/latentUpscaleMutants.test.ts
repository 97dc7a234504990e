import * as assert from 'assert';
import { interpolate, LATENT_UPSCALE_MODES } from '../../../server/src/render/pipeline/hires/latentUpscale';

const mode = (name: string) => LATENT_UPSCALE_MODES.get(name)!;
const close = (got: Float32Array, want: number[]) => {
  assert.strictEqual(got.length, want.length);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i])), `[${i}] ${v} ≠ ${want[i]}`));
};
// 1, 4, 9, ..., 64 in one row: a curve, so each weight shows in the result.
const squares = Float32Array.from({ length: 8 }, (_, i) => (i + 1) ** 2);

describe('Latent upscalers at sizes smaller than the latent, and bad sizes', () => {
  it('antialiased modes widen the filter by the scale when shrinking (torch, scripts/golden/latent_downscale_aa.py)', () => {
    close(interpolate(squares, 1, 1, 8, 1, 3, mode('Latent (antialiased)')), [5.263157844543457, 21.452381134033203, 48.36842346191406]);
    close(interpolate(squares, 1, 1, 8, 1, 5, mode('Latent (antialiased)')), [2.2272727489471436, 9.0, 20.666667938232422, 37.33333206176758, 57.86363983154297]);
    close(interpolate(squares, 1, 1, 8, 1, 3, mode('Latent (bicubic antialiased)')), [3.828723907470703, 20.718557357788086, 50.69234085083008]);
    close(interpolate(squares, 1, 1, 8, 1, 5, mode('Latent (bicubic antialiased)')), [1.807673692703247, 8.403450012207031, 20.18772315979004, 37.60102844238281, 58.941715240478516]);
  });

  it('an output size under 1 or not whole is refused with both sizes in the message', () => {
    const x = Float32Array.of(1, 2, 3, 4);
    // One pixel is a size: 2×2 → 1×1 is the mean (torch: F.interpolate(..., size=(1, 1), mode='bilinear') = 2.5).
    assert.deepStrictEqual([...interpolate(x, 1, 2, 2, 1, 1, mode('Latent'))], [2.5]);
    for (const [h, w] of [[0, 4], [4, 0], [2.5, 4], [4, 2.5], [-1, 4]]) {
      assert.throws(() => interpolate(x, 1, 2, 2, h, w, mode('Latent')), (e: Error) => e instanceof RangeError && e.message === `interpolate: output size ${h}×${w} must be positive integers`);
    }
  });
});
