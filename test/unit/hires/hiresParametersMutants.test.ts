import * as assert from 'assert';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { cropLatent, hiresTarget, readHiresFix } from '../../../server/src/render/pipeline/hires/hiresParameters';

// Edges of the Hires. fix settings a user can get wrong, and the resize cases A1111's
// calculate_target_resolution (modules/processing.py) handles apart: only a height, a target of
// another aspect ratio in either direction, and the crop of a multi-channel latent.
const readText = (text: string) => readHiresFix(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
const read = (line: string) => readText(`a cat\nSteps: 20, ${line}`);

describe('Hires. fix parameters at their limits', () => {
  it('Hires upscale 0 and a negative Hires CFG Scale are refused; Denoising strength 1 and Hires CFG Scale 0 are taken', () => {
    // column 52: "Steps: 20, Denoising strength: 0.5, Hires upscale: " is 51 characters.
    assert.throws(() => read('Denoising strength: 0.5, Hires upscale: 0'), /^HiresParameterError: line 2, column 52: Hires upscale: '0' must be a number above 0$/);
    assert.throws(() => read('Denoising strength: 1.5, Hires upscale: 2'), /^HiresParameterError: line 2, column 32: Denoising strength: '1.5' must be above 0 and at most 1$/);
    assert.strictEqual(read('Denoising strength: 1, Hires upscale: 2')!.denoisingStrength, 1);
    assert.strictEqual(read('Denoising strength: 0.5, Hires upscale: 2, Hires CFG Scale: 0')!.cfgScale, 0);
    assert.throws(() => read('Denoising strength: 0.5, Hires upscale: 2, Hires CFG Scale: -1'), /^HiresParameterError: line 2, column 72: Hires CFG Scale: '-1' must be a number of at least 0$/);
  });

  it('Hires resize must be exactly WIDTHxHEIGHT, and a bad pasted width or height names its key', () => {
    assert.throws(() => read('Denoising strength: 0.5, Hires resize: 1024x768px'), /Hires resize: '1024x768px' is not WIDTHxHEIGHT$/);
    assert.throws(() => read('Denoising strength: 0.5, Hires resize: x1024x768'), /Hires resize: 'x1024x768' is not WIDTHxHEIGHT$/);
    assert.throws(() => read('Denoising strength: 0.5, Hires resize-1: wide, Hires resize-2: 768'), /^HiresParameterError: line 2, column 53: Hires resize-1: 'wide' is not a whole number of pixels$/);
    assert.throws(() => read('Denoising strength: 0.5, Hires resize-1: 1024, Hires resize-2: 7.5'), /^HiresParameterError: line 2, column 75: Hires resize-2: '7.5' is not a whole number of pixels$/);
  });

  it('an error on a parameter line followed by another line still points at the parameter line', () => {
    assert.throws(() => readText('a cat\nSteps: 20, Denoising strength: 0.5, Hires upscale: big\n'), /^HiresParameterError: line 2, column 52: Hires upscale: 'big' must be a number above 0$/);
  });

  it('a quoted value is unquoted, a value with only a closing quote is kept as written', () => {
    assert.strictEqual(read('Denoising strength: 0.5, Hires upscaler: "Latent (nearest)"')!.upscaler, 'Latent (nearest)');
    assert.strictEqual(read('Denoising strength: 0.5, Hires upscaler: 4x"')!.upscaler, '4x"');
  });

  it('only a height: the width follows the aspect ratio, nothing is cropped', () => {
    const fix = read('Denoising strength: 0.5, Hires resize-1: 0, Hires resize-2: 1000')!;
    assert.deepStrictEqual([fix.resizeX, fix.resizeY], [0, 1000]);
    // 768x512 → x = 1000·768 // 512 = 1500.
    assert.deepStrictEqual(hiresTarget(768, 512, fix), { upscaleToX: 1500, upscaleToY: 1000, truncateX: 0, truncateY: 0, latentWidth: 187, latentHeight: 125 });
  });

  it('a taller first pass resized to a square: y is the target, the overhang is cropped left and right', () => {
    const fix = read('Denoising strength: 0.5, Hires resize: 1024x1024')!;
    // 768x512: 1.5 > 1 → x = 1024·768 // 512 = 1536, truncate_x = (1536 − 1024) // 8 = 64, 32 columns each side.
    assert.deepStrictEqual(hiresTarget(768, 512, fix), { upscaleToX: 1536, upscaleToY: 1024, truncateX: 64, truncateY: 0, latentWidth: 128, latentHeight: 128 });
    // 600x500 to 1000x700: 1.2 < 1.43 → x = 1000, y = 1000·500 // 600 = 833, truncate_y = 133 // 8 = 16.
    assert.deepStrictEqual(hiresTarget(600, 500, read('Denoising strength: 0.5, Hires resize: 1000x700')!), { upscaleToX: 1000, upscaleToY: 833, truncateX: 0, truncateY: 16, latentWidth: 125, latentHeight: 88 });
  });

  it('cropLatent takes the middle columns of every channel', () => {
    const fix = read('Denoising strength: 0.5, Hires resize: 16x16')!;
    // 48x16 first pass → 48x16 → latent 6x2, truncate_x = (48 − 16) // 8 = 4: columns 2..3 of each row.
    const t = hiresTarget(48, 16, fix);
    assert.deepStrictEqual([t.upscaleToX, t.upscaleToY, t.truncateX, t.truncateY, t.latentWidth, t.latentHeight], [48, 16, 4, 0, 2, 2]);
    const x = Float32Array.from({ length: 2 * 2 * 6 }, (_, i) => i);
    assert.deepStrictEqual([...cropLatent(x, 2, t)], [2, 3, 8, 9, 14, 15, 20, 21]);
  });

  it('cropLatent takes the middle rows of every channel', () => {
    const fix = read('Denoising strength: 0.5, Hires resize: 16x16')!;
    // 16x48 → latent 2x6, truncate_y = 4: rows 2..3.
    const t = hiresTarget(16, 48, fix);
    assert.deepStrictEqual([t.truncateY, t.latentWidth, t.latentHeight], [4, 2, 2]);
    const x = Float32Array.from({ length: 2 * 6 * 2 }, (_, i) => i);
    assert.deepStrictEqual([...cropLatent(x, 2, t)], [4, 5, 6, 7, 16, 17, 18, 19]);
  });
});
