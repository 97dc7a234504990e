import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { renderParameters } from '../../../server/src/render/parameters';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { FIXTURES } from '../fixtures';
import { main } from '../../../server/src/cli/main';

describe('Hires. fix, NGMS and the infotext on the tiny SD1.5 pipeline (CPU EP)', function () {
  this.timeout(120000);
  let root: string;
  let sessions: ModelSessions;
  const render = async (file: string, onStep?: (step: number, steps: number) => void) =>
    renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(file, { model: root }), {
      onProgress: (p) => onStep?.(p.step, p.steps),
    });
  const keys = (infotext: string) => parsePromptDocument(infotext).sections.parameters!.entries.map((e) => `${e.key}: ${e.value}`);

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-hires-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const base = 'a cat\nNegative prompt: lowres\nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 77, Size: 64x64';

  it('a latent upscaler runs the second pass: 64x64 → 128x128, progress over both passes, infotext in A1111\'s order', async () => {
    const seen: string[] = [];
    const result = await render(`${base}, Denoising strength: 0.5, Hires upscale: 2, Hires steps: 3, Hires upscaler: Latent`, (s, n) => seen.push(`${s}/${n}`));
    const info = readPngInfo(result.png);
    assert.deepStrictEqual([info.width, info.height, result.width, result.height], [128, 128, 128, 128]);
    assert.deepStrictEqual(seen, ['1/7', '2/7', '3/7', '4/7', '5/7', '6/7', '7/7']);
    assert.deepStrictEqual(result.notes, []);
    assert.deepStrictEqual(keys(result.infotext), [
      'Steps: 4', 'Sampler: Euler a', 'Schedule type: Automatic', 'CFG scale: 7', 'Seed: 77', 'Size: 64x64', `Model: ${path.basename(root)}`,
      'Denoising strength: 0.5', 'Hires upscale: 2', 'Hires steps: 3', 'Hires upscaler: Latent', 'Version: sd-prompt',
    ]);
    const first = await render(base);
    assert.deepStrictEqual([readPngInfo(first.png).width, first.rgb.length], [64, 64 * 64 * 3]);
  });

  it('each latent mode and the denoising strength change the picture; a resize to another aspect ratio crops', async () => {
    const a = await render(`${base}, Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent`);
    const b = await render(`${base}, Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent (nearest-exact)`);
    const c = await render(`${base}, Denoising strength: 0.9, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent`);
    assert.notDeepStrictEqual(a.rgb, b.rgb);
    assert.notDeepStrictEqual(a.rgb, c.rgb);
    const crop = await render(`${base}, Denoising strength: 0.5, Hires resize: 128x96, Hires steps: 2, Hires upscaler: Latent (bicubic antialiased)`);
    const info = readPngInfo(crop.png);
    assert.deepStrictEqual([info.width, info.height], [128, 96]);
    assert.ok(keys(crop.infotext).includes('Hires resize: 128x96'));
  });

  it("prompt editing in the second pass counts from the first pass's steps, as A1111's calculate_hr_conds does", async () => {
    // [cat:dog:2] with Steps 4: the hires pass's switch is 2 − 4 < 1, so it is 'dog' throughout, as a Hires prompt of 'dog' is.
    const hires = 'Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent';
    const edited = await render(`a [cat:dog:2]\nNegative prompt: lowres\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 77, Size: 64x64, ${hires}`);
    const dog = await render(`a [cat:dog:2]\nNegative prompt: lowres\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 77, Size: 64x64, ${hires}, Hires prompt: a dog`);
    const cat = await render(`a [cat:dog:2]\nNegative prompt: lowres\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 77, Size: 64x64, ${hires}, Hires prompt: a cat`);
    assert.deepStrictEqual(edited.rgb, dog.rgb);
    assert.notDeepStrictEqual(edited.rgb, cat.rgb);
    assert.ok(keys(dog.infotext).includes('Hires prompt: a dog'));
  });

  it('other upscalers render the first pass only and say so in notes, never silently', async () => {
    const result = await render(`${base}, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: R-ESRGAN 4x+`);
    assert.deepStrictEqual([readPngInfo(result.png).width, readPngInfo(result.png).height], [64, 64]);
    assert.strictEqual(result.notes.length, 1);
    assert.match(result.notes[0], /^Hires\. fix skipped: the upscaler 'R-ESRGAN 4x\+' is not one of A1111's latent upscalers \(Latent, .*\); this is the first pass only, at 64x64 instead of 128x128\.$/);
    assert.deepStrictEqual(result.rgb, (await render(base)).rgb);
  });

  it('sd-prompt render --json carries the notes, and says them on stderr', async () => {
    const file = path.join(root, 'esrgan.prompt');
    fs.writeFileSync(file, `${base}, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: 4x-UltraSharp\n`);
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), readFile: (f: string) => fs.readFileSync(f, 'utf8'), readStdin: () => '' };
    assert.strictEqual(await main(['render', file, '--model', root, '--device', 'cpu', '--json'], io), 0, stderr);
    const summary = JSON.parse(stdout);
    assert.deepStrictEqual([summary.width, summary.height, summary.notes.length], [64, 64, 1]);
    assert.match(summary.notes[0], /^Hires\. fix skipped: the upscaler '4x-UltraSharp' is not one of A1111's latent upscalers/);
    assert.ok(stderr.includes(`sd-prompt: ${summary.notes[0]}\n`));
    // With a latent upscaler the summary's size is the PNG's, the second pass's.
    fs.writeFileSync(file, `${base}, Denoising strength: 0.5, Hires upscale: 2, Hires steps: 1, Hires upscaler: Latent\n`);
    stdout = '';
    assert.strictEqual(await main(['render', file, '--model', root, '--device', 'cpu', '--json'], io), 0, stderr);
    const latent = JSON.parse(stdout);
    assert.deepStrictEqual([latent.width, latent.height, latent.notes], [128, 128, []]);
  });

  it('NGMS skips the negative prompt below its sigma and is written only when it did; NGMS all steps skips more', async () => {
    const plain = await render(base);
    const never = await render(`${base}, NGMS: 0.0001`);
    assert.deepStrictEqual(never.png, plain.png, 'no sigma of the schedule is under 0.0001 but the last 0, which is never passed to the model');
    const alternate = await render(`${base}, NGMS: 100`);
    const all = await render(`${base}, NGMS: 100, NGMS all steps: True`);
    assert.notDeepStrictEqual(alternate.rgb, plain.rgb);
    assert.notDeepStrictEqual(all.rgb, alternate.rgb);
    assert.deepStrictEqual(keys(alternate.infotext).slice(-2), ['NGMS: 100', 'Version: sd-prompt']);
    assert.deepStrictEqual(keys(all.infotext).slice(-3), ['NGMS: 100', 'NGMS all steps: True', 'Version: sd-prompt']);
  });

  // ENSD is written only for a first-pass sampler that uses it (Euler a here), as A1111 does, though it
  // reseeds the generators for every sampler: with DPM++ SDE first, A1111's own infotext would lose it.
  it('an infotext with every parameter issue 15 adds round-trips: render → PNG infotext → render gives the same PNG', async () => {
    const file =
      'a (cat:1.2) AND a dog:0.5, [day:night:2]\nNegative prompt: lowres\n' +
      'Steps: 4, Sampler: Euler a, Schedule type: Exponential, CFG scale: 6, Seed: 1234, Size: 64x64, ' +
      'Variation seed: 99, Variation seed strength: 0.3, Seed resize from: 48x56, Denoising strength: 0.6, ENSD: 31337, RNG: CPU, ' +
      'Hires sampler: DPM++ SDE, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent (bicubic), Eta: 0.5, Sigma noise: 0.9, NGMS: 100';
    const once = await render(file);
    const twice = await render(readPngInfo(once.png).text.parameters);
    assert.strictEqual(twice.infotext, once.infotext);
    assert.deepStrictEqual(twice.png, once.png);
    assert.deepStrictEqual(keys(once.infotext).slice(6), [
      `Model: ${path.basename(root)}`, 'Variation seed: 99', 'Variation seed strength: 0.3', 'Seed resize from: 48x56', 'Denoising strength: 0.6',
      'ENSD: 31337', 'RNG: CPU', 'Hires sampler: DPM++ SDE', 'Hires upscale: 2', 'Hires steps: 2', 'Hires upscaler: Latent (bicubic)', 'Eta: 0.5', 'NGMS: 100',
      // Euler a is not given s_noise; the hires pass's DPM++ SDE is, and A1111 adds it when that pass starts.
      'Sigma noise: 0.9', 'Version: sd-prompt',
    ]);
    assert.deepStrictEqual([readPngInfo(once.png).width, readPngInfo(once.png).height], [128, 128]);
  });
});
