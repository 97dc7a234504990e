import * as assert from 'assert';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { cropLatent, hiresTarget, img2imgSteps, readHiresFix } from '../../../server/src/render/pipeline/hires/hiresParameters';
import { readNgms } from '../../../server/src/render/pipeline/ngmsParameters';
import { byteOf, toRgb8 } from '../../../server/src/render/pipeline/rgb8';

// A parameter line starts with Steps (as every A1111 infotext has it).
const read = (line: string) => {
  const text = `a cat\n${line.includes('Steps:') ? line : `Steps: 20, ${line}`}`;
  return readHiresFix(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
};
const ngms = (line: string) => {
  const text = `a cat\n${line.includes('Steps:') ? line : `Steps: 20, ${line}`}`;
  return readNgms(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
};

describe('Hires. fix parameters, as A1111 writes and pastes them', () => {
  it('on only with Denoising strength and one of Hires upscale / Hires upscaler / Hires resize', () => {
    assert.strictEqual(read('Steps: 20, Size: 512x512'), undefined);
    assert.strictEqual(read('Steps: 20, Denoising strength: 0.5'), undefined, 'img2img data: strength alone');
    assert.strictEqual(read('Steps: 20, Hires upscale: 2'), undefined);
    assert.strictEqual(read('Steps: 20, Hires upscaler: Latent'), undefined);
    const fix = read('Steps: 20, Denoising strength: 0.55, Hires upscale: 1.5, Hires steps: 10, Hires upscaler: Latent (bicubic)');
    assert.deepStrictEqual(fix, {
      upscaler: 'Latent (bicubic)', upscalerWritten: true, scale: 1.5, resizeX: 0, resizeY: 0, steps: 10, denoisingStrength: 0.55,
      sampler: undefined, scheduleType: undefined, cfgScale: undefined, prompt: undefined, negativePrompt: undefined,
    });
    assert.deepStrictEqual(read('Denoising strength: 0.7, Hires upscale: 2'), { ...fix, upscaler: 'Latent', upscalerWritten: false, scale: 2, steps: 0, denoisingStrength: 0.7 });
  });

  it('Hires resize as written (WxH) and as pasted (-1/-2); the second pass\'s own sampler, schedule, CFG and prompts', () => {
    const a = read('Denoising strength: 0.4, Hires resize: 1024x768, Hires upscaler: Latent');
    assert.deepStrictEqual([a!.resizeX, a!.resizeY, a!.scale], [1024, 768, 2]);
    const b = read('Denoising strength: 0.4, Hires resize-1: 1024, Hires resize-2: 0');
    assert.deepStrictEqual([b!.resizeX, b!.resizeY], [1024, 0]);
    const c = read('Denoising strength: 0.4, Hires upscale: 2, Hires sampler: DPM++ 2M, Hires schedule type: Karras, Hires CFG Scale: 5, Hires prompt: "a dog, red", Hires negative prompt: blurry');
    assert.deepStrictEqual([c!.sampler, c!.scheduleType, c!.cfgScale, c!.prompt, c!.negativePrompt], ['DPM++ 2M', 'Karras', 5, 'a dog, red', 'blurry']);
  });

  it('a value the render cannot use names its key, value, line and column', () => {
    assert.throws(() => read('Denoising strength: 0, Hires upscale: 2'), /^HiresParameterError: line 2, column 32: Denoising strength: '0' must be above 0 and at most 1$/);
    assert.throws(() => read('Denoising strength: 0.5, Hires upscale: big'), /line 2, column 52: Hires upscale: 'big' must be a number above 0/);
    assert.throws(() => read('Denoising strength: 0.5, Hires resize: 1024'), /Hires resize: '1024' is not WIDTHxHEIGHT/);
    assert.throws(() => read('Denoising strength: 0.5, Hires upscale: 2, Hires steps: -3'), /Hires steps: '-3' is not a whole number of steps/);
  });

  it("calculate_target_resolution: scale truncates; a resize keeps the aspect ratio and crops the overhang in latent space", () => {
    const fix = read('Denoising strength: 0.5, Hires upscale: 1.7')!;
    assert.deepStrictEqual(hiresTarget(512, 512, fix), { upscaleToX: 870, upscaleToY: 870, truncateX: 0, truncateY: 0, latentWidth: 108, latentHeight: 108 });
    // 512x768 to 1024x1024: wider target → x = 1024, y = 1024·768//512 = 1536, 64 latent rows cropped, 32 above and 32 below.
    const resize = read('Denoising strength: 0.5, Hires resize: 1024x1024')!;
    assert.deepStrictEqual(hiresTarget(512, 768, resize), { upscaleToX: 1024, upscaleToY: 1536, truncateX: 0, truncateY: 64, latentWidth: 128, latentHeight: 128 });
    const onlyWidth = read('Denoising strength: 0.5, Hires resize-1: 1000, Hires resize-2: 0')!;
    assert.deepStrictEqual(hiresTarget(512, 768, onlyWidth), { upscaleToX: 1000, upscaleToY: 1500, truncateX: 0, truncateY: 0, latentWidth: 125, latentHeight: 187 });
  });

  it('cropLatent keeps the middle rows of an odd overhang with the extra one cut at the bottom', () => {
    const fix = read('Denoising strength: 0.5, Hires resize: 16x8')!;
    // 8x16 first pass → 16x32 → latent 2x4, truncateY = (32 − 8) // 8 = 3: rows 1..1 (one row: 4 − 1 − 2).
    const t = hiresTarget(8, 16, fix);
    assert.deepStrictEqual([t.upscaleToX, t.upscaleToY, t.truncateY, t.latentWidth, t.latentHeight], [16, 32, 3, 2, 1]);
    const x = Float32Array.from({ length: 1 * 4 * 2 }, (_, i) => i);
    assert.deepStrictEqual([...cropLatent(x, 1, t)], [2, 3]);
  });

  it("setup_img2img_steps as sample_hr_pass calls it: int(steps / min(d, 0.999)) steps, the last `steps` of them run", () => {
    assert.deepStrictEqual(img2imgSteps(10, 0.5), { totalSteps: 20, tEnc: 9, startIndex: 10 });
    assert.deepStrictEqual(img2imgSteps(20, 1), { totalSteps: 20, tEnc: 19, startIndex: 0 });
    assert.deepStrictEqual(img2imgSteps(15, 0.7), { totalSteps: 21, tEnc: 14, startIndex: 6 });
  });
});

describe('NGMS and the 8-bit conversion', () => {
  it('NGMS and NGMS all steps read as A1111 pastes them', () => {
    assert.strictEqual(ngms('Steps: 20'), undefined);
    assert.deepStrictEqual(ngms('Steps: 20, NGMS: 2.5'), { sMinUncond: 2.5, allSteps: false });
    assert.deepStrictEqual(ngms('NGMS: 1, NGMS all steps: True'), { sMinUncond: 1, allSteps: true });
    assert.throws(() => ngms('Steps: 20, NGMS: much'), /^NgmsParameterError: line 2, column 18: NGMS: 'much' is not a number of at least 0$/);
  });

  it('truncates in float32 as numpy astype(uint8) after 255. * x does, never rounds', () => {
    assert.deepStrictEqual([-2, -1, 0, 1, 3].map(byteOf), [0, 0, 127, 255, 255]);
    // 0.999 → 254.87: truncation gives 254 where rounding would give 255.
    assert.strictEqual(byteOf(0.999), 254);
    // This float32 VAE value gives 236.99999... in float64 but exactly 237 in float32, as torch and numpy compute it.
    assert.strictEqual(byteOf(Math.fround(0.8588234782218933)), 237);
    // Channel planes (R, G, B) to interleaved bytes: pixel 0 = (-1, 0, 1), pixel 1 = (1, 0.999, -1).
    assert.deepStrictEqual([...toRgb8(Float32Array.of(-1, 1, 0, 0.999, 1, -1), 2, 1)], [0, 127, 255, 255, 254, 0]);
  });
});
