import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { RenderCancelled, RenderParameters, renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { KNOWN_SAMPLER_NAMES, KNOWN_SCHEDULE_TYPES } from '../../../server/src/render/pipeline/samplerNames';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';

describe('every A1111 sampler name and schedule type renders on the tiny SD1.5 pipeline (CPU EP, 64x64)', function () {
  this.timeout(120000);
  let root: string;
  let sessions: ModelSessions;
  const params: RenderParameters = {
    prompt: 'a cat, [day:night:2]',
    negativePrompt: 'lowres',
    steps: 3,
    sampler: 'Euler',
    cfgScale: 7,
    seed: 77,
    width: 64,
    height: 64,
    modelName: 'tiny-sd15',
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-samplers-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('each of the 20 sampler names renders, reports its steps, and the images are not all alike', async () => {
    assert.strictEqual(KNOWN_SAMPLER_NAMES.length, 20);
    const folder = openModelFolder(root);
    const images = new Map<string, string>();
    for (const sampler of KNOWN_SAMPLER_NAMES) {
      const steps: number[] = [];
      const r = await renderTxt2Img(ort, folder, sessions, { ...params, sampler }, { onProgress: (p) => steps.push(p.step) });
      assert.strictEqual(readPngInfo(r.png).width, 64, sampler);
      assert.ok(steps.length >= 2, `${sampler}: progress ${steps}`);
      assert.ok(steps.every((s, k) => k === 0 || s >= steps[k - 1]), `${sampler}: progress goes forward (${steps})`);
      images.set(sampler, Buffer.from(r.rgb).toString('base64'));
    }
    assert.ok(new Set(images.values()).size >= 15, `distinct images: ${new Set(images.values()).size}`);
  });

  it('old names and aliases: DPM++ SDE Karras (11 of the real prompts), k_dpmpp_2m_sde_heun, DPM++ 3M SDE Exponential', async () => {
    const folder = openModelFolder(root);
    const a = await renderTxt2Img(ort, folder, sessions, { ...params, sampler: 'DPM++ SDE Karras' });
    const b = await renderTxt2Img(ort, folder, sessions, { ...params, sampler: 'DPM++ SDE', scheduleType: 'Karras' });
    assert.deepStrictEqual(a.rgb, b.rgb, 'the suffix is the schedule type');
    const again = await renderTxt2Img(ort, folder, sessions, { ...params, sampler: 'DPM++ SDE Karras' });
    assert.deepStrictEqual(a.rgb, again.rgb, 'the Brownian noise is fixed by the seed');
    const other = await renderTxt2Img(ort, folder, sessions, { ...params, sampler: 'DPM++ SDE Karras', seed: 78 });
    assert.notDeepStrictEqual(a.rgb, other.rgb);
    for (const sampler of ['k_dpmpp_2m_sde_heun', 'DPM++ 3M SDE Exponential', 'k_dpmpp_sde_ka']) {
      assert.strictEqual(readPngInfo((await renderTxt2Img(ort, folder, sessions, { ...params, sampler })).png).width, 64, sampler);
    }
  });

  it('each of the 12 schedule types renders with Euler', async () => {
    assert.strictEqual(KNOWN_SCHEDULE_TYPES.length, 12);
    const folder = openModelFolder(root);
    for (const scheduleType of KNOWN_SCHEDULE_TYPES) {
      const r = await renderTxt2Img(ort, folder, sessions, { ...params, scheduleType });
      assert.strictEqual(readPngInfo(r.png).width, 64, scheduleType);
    }
  });

  it("prompt editing counts model calls, over twice the steps for a second-order sampler (A1111's CFGDenoiser.step, total_steps)", async () => {
    const folder = openModelFolder(root);
    const go = (prompt: string, sampler: string, steps: number) => renderTxt2Img(ort, folder, sessions, { ...params, prompt, sampler, steps });
    // Heun, 3 steps, [cat:dog:2]: counted per model call, calls 0-2 see 'cat' and the second call of
    // step 1 (call 3) already 'dog'; counted per step, all three steps (0, 1, 2) would see 'cat'.
    const perCall = await go('[cat:dog:2]', 'Heun', 3);
    assert.notDeepStrictEqual(perCall.rgb, (await go('cat', 'Heun', 3)).rgb);
    // A fraction is of twice the steps: Heun, 2 steps, [cat:dog:0.5] ends 'cat' at 2 of 4, which its
    // 3 calls (0, 1, 2) never pass.
    assert.deepStrictEqual((await go('[cat:dog:0.5]', 'Heun', 2)).rgb, (await go('cat', 'Heun', 2)).rgb);
    // Euler, 3 steps, [cat:dog:2]: one call per step, 'dog' never reached.
    assert.deepStrictEqual((await go('[cat:dog:2]', 'Euler', 3)).rgb, (await go('cat', 'Euler', 3)).rgb);
  });

  it('a cancel stops a sampler that calls the model twice per step (Heun) before its next model call', async () => {
    const controller = new AbortController();
    let calls = 0;
    const render = renderTxt2Img(ort, openModelFolder(root), sessions, { ...params, sampler: 'Heun', steps: 6 }, {
      signal: controller.signal,
      onProgress: () => {
        calls++;
        if (calls === 2) controller.abort();
      },
    });
    await assert.rejects(render, RenderCancelled);
    assert.strictEqual(calls, 2);
  });
});
