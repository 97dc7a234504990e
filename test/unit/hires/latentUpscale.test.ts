import * as assert from 'assert';
import { interpolate, LATENT_UPSCALE_MODES } from '../../../server/src/render/pipeline/hires/latentUpscale';

const mode = (name: string) => LATENT_UPSCALE_MODES.get(name)!;
const close = (actual: Float32Array, expected: number[], tol = 1e-6) => {
  assert.strictEqual(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `[${i}] ${v} vs ${expected[i]}`));
};

describe('Hires. fix latent upscalers (torch F.interpolate, align_corners=False)', () => {
  it("A1111's six latent upscalers, by the names infotexts carry", () => {
    assert.deepStrictEqual([...LATENT_UPSCALE_MODES.entries()], [
      ['Latent', { mode: 'bilinear', antialias: false }],
      ['Latent (antialiased)', { mode: 'bilinear', antialias: true }],
      ['Latent (bicubic)', { mode: 'bicubic', antialias: false }],
      ['Latent (bicubic antialiased)', { mode: 'bicubic', antialias: true }],
      ['Latent (nearest)', { mode: 'nearest', antialias: false }],
      ['Latent (nearest-exact)', { mode: 'nearest-exact', antialias: false }],
    ]);
  });

  it('bilinear 2x2 → 4x4: half-pixel centres, edges clamped', () => {
    const out = interpolate(Float32Array.of(1, 2, 3, 4), 1, 2, 2, 4, 4, mode('Latent'));
    close(out, [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
  });

  it('bicubic 1x2 → 1x4: A = −0.75 with the taps clamped to the edge', () => {
    // From the definition: t = 0.75 at x = −0.25 → weights cc2(1.75), cc1(0.75), cc1(0.25), cc2(1.25) over 1,1,1,2.
    close(interpolate(Float32Array.of(1, 2), 1, 1, 2, 1, 4, mode('Latent (bicubic)')), [0.89453125, 1.2265625, 1.7734375, 2.10546875]);
  });

  it('antialiased bicubic 1x2 → 1x4: a = −0.5 and weights renormalised over the taps inside the image', () => {
    // x = 0: taps 0 and 1 at distances 0.25 and 1.25: 0.8671875 and −0.0703125, divided by their sum 0.796875.
    const first = (0.8671875 * 1 - 0.0703125 * 2) / 0.796875;
    const out = interpolate(Float32Array.of(1, 2), 1, 1, 2, 1, 4, mode('Latent (bicubic antialiased)'));
    // x = 1: taps 0 and 1 at distances 0.25 and 0.75: 0.8671875 and 0.2265625 over their sum 1.09375.
    const second = (0.8671875 * 1 + 0.2265625 * 2) / 1.09375;
    close(out, [first, second, 3 - second, 3 - first]);
    assert.ok(Math.abs(out[0] - 0.9117647058823529) < 1e-6);
  });

  it('antialiased bilinear equals bilinear when upscaling 2x (support 1, same triangle)', () => {
    const x = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => Math.sin(i * 1.7));
    close(interpolate(x, 2, 3, 5, 6, 10, mode('Latent (antialiased)')), [...interpolate(x, 2, 3, 5, 6, 10, mode('Latent'))]);
  });

  it('nearest floors dst·in/out; nearest-exact floors (dst + 0.5)·in/out', () => {
    const row = Float32Array.of(10, 20, 30);
    assert.deepStrictEqual([...interpolate(row, 1, 1, 3, 1, 5, mode('Latent (nearest)'))], [10, 10, 20, 20, 30]);
    assert.deepStrictEqual([...interpolate(row, 1, 1, 3, 1, 5, mode('Latent (nearest-exact)'))], [10, 10, 20, 30, 30]);
    assert.deepStrictEqual([...interpolate(Float32Array.of(1, 2), 1, 1, 2, 1, 4, mode('Latent (nearest)'))], [1, 1, 2, 2]);
  });

  it('each channel is resampled on its own; a size mismatch is a clear error', () => {
    const x = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40);
    const out = interpolate(x, 2, 2, 2, 4, 4, mode('Latent'));
    close(out.subarray(16), [...out.subarray(0, 16)].map((v) => v * 10), 1e-5);
    assert.throws(() => interpolate(x, 3, 2, 2, 4, 4, mode('Latent')), /8 values are not 3×2×2/);
  });
});
