import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { renderParameters } from '../../../server/src/render/parameters';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { FIXTURES } from '../fixtures';

describe('render noise: RNG, variation, resize and ENSD in a render (tiny SD1.5 pipeline, CPU EP)', function () {
  this.timeout(60000);
  let root: string;
  let sessions: ModelSessions;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-rng-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const render = (file: string, rngSource?: 'GPU' | 'CPU' | 'NV') =>
    renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(file, { model: root }, { rngSource }));
  const file = (extra: string) => `a cat\nNegative prompt: lowres\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x64${extra}`;

  it('RNG: CPU renders another image than GPU; NV is the same as GPU; the setting stands in for a missing RNG', async () => {
    const gpu = await render(file(''));
    const cpu = await render(file(', RNG: CPU'));
    const nv = await render(file(', RNG: NV'));
    const cpuFromSetting = await render(file(''), 'CPU');
    let differing = 0;
    for (let i = 0; i < gpu.rgb.length; i++) if (gpu.rgb[i] !== cpu.rgb[i]) differing++;
    assert.ok(differing > gpu.rgb.length / 2, `${differing} of ${gpu.rgb.length} bytes differ`);
    assert.deepStrictEqual(nv.rgb, gpu.rgb);
    assert.deepStrictEqual(cpuFromSetting.rgb, cpu.rgb);
    // A1111 writes RNG only when it is not GPU.
    assert.doesNotMatch(gpu.infotext, /RNG/);
    assert.match(cpu.infotext, /, RNG: CPU, Version: sd-prompt$/);
    assert.match(cpuFromSetting.infotext, /, RNG: CPU, Version: sd-prompt$/);
  });

  it('ENSD changes an Euler a render (its later draws), not an Euler one (no later draws)', async () => {
    const ancestral = await render(file(''));
    const ancestralEnsd = await render(file(', ENSD: 31337'));
    assert.notDeepStrictEqual(ancestralEnsd.rgb, ancestral.rgb);
    const euler = await render(file('').replace('Euler a', 'Euler'));
    const eulerEnsd = await render(file(', ENSD: 31337').replace('Euler a', 'Euler'));
    assert.deepStrictEqual(eulerEnsd.rgb, euler.rgb);
    // A1111 writes ENSD only for samplers that use it, and not when the sampler's eta is 0.
    assert.doesNotMatch(eulerEnsd.infotext, /ENSD/);
    assert.match(ancestralEnsd.infotext, /, ENSD: 31337,/);
    assert.doesNotMatch((await render(file(', ENSD: 31337, Eta: 0'))).infotext, /ENSD/);
  });

  it("the infotext keeps every noise parameter in A1111's order, and reads back to the same noise", async () => {
    const result = await render(file(', Variation seed: 3, Variation seed strength: 0.6, Seed resize from: 64x96, ENSD: 31337, RNG: CPU'));
    const entries = parsePromptDocument(result.infotext).sections.parameters!.entries.map((e) => `${e.key}: ${e.value}`);
    assert.deepStrictEqual(entries, [
      'Steps: 3', 'Sampler: Euler a', 'Schedule type: Automatic', 'CFG scale: 7', 'Seed: 42', 'Size: 64x64', `Model: ${path.basename(root)}`,
      'Variation seed: 3', 'Variation seed strength: 0.6', 'Seed resize from: 64x96', 'ENSD: 31337', 'RNG: CPU', 'Version: sd-prompt',
    ]);
    const again = await render(result.infotext);
    assert.strictEqual(again.infotext, result.infotext);
    assert.deepStrictEqual(again.rgb, result.rgb);
  });

  it('Seed -1 with a variation seed -1: both resolved, written to the infotext, and rendering it again gives the image', async () => {
    const result = await render(file(', Variation seed: -1, Variation seed strength: 0.3').replace('Seed: 42', 'Seed: -1'));
    const entries = new Map(parsePromptDocument(result.infotext).sections.parameters!.entries.map((e) => [e.key, e.value]));
    assert.match(entries.get('Seed')!, /^\d+$/);
    assert.match(entries.get('Variation seed')!, /^\d+$/);
    assert.deepStrictEqual((await render(result.infotext)).rgb, result.rgb);
  });
});
