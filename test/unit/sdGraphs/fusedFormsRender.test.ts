import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { checkpointFormFor, openCheckpointModel } from '../../../server/src/render/model/checkpointModel';
import { loadSessions } from '../../../server/src/render/model/sessions';
import { renderParameters } from '../../../server/src/render/parameters';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { GraphForm, graphFormFor, PLAIN_FORM } from '../../../server/src/render/sdGraphs/graphOptions';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';

/**
 * A whole render from an fp16 checkpoint through the graphs a device's form builds: the pipeline feeds fp16
 * graphs fp16 and reads their fp16 outputs, and the image is the plain form's within fp16's rounding.
 */
describe('Rendering a checkpoint in a device graph form', function () {
  this.timeout(240000);
  let root = '';
  let checkpoint = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-form-render-'));
    checkpoint = path.join(root, 'tiny.safetensors');
    writeCheckpoint(checkpoint, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 11 });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a named device gets its table form; the override applies through it', () => {
    assert.deepStrictEqual(checkpointFormFor('webgpu', 'linux', ''), graphFormFor('webgpu', ''));
    assert.deepStrictEqual(checkpointFormFor('webgpu', 'linux', 'plain'), PLAIN_FORM);
  });

  async function render(form: GraphForm): Promise<{ rgb: Uint8Array; unetInput: string | undefined }> {
    const folder = await openCheckpointModel(checkpoint, { cacheRoot: path.join(root, 'cache'), form });
    const sessions = await loadSessions(folder, 'cpu', ort);
    try {
      const text = 'a cat\nNegative prompt: lowres\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 64x64';
      const result = await renderTxt2Img(ort, folder, sessions, renderParameters(text, { model: checkpoint }));
      return { rgb: result.rgb, unetInput: fs.readFileSync(folder.unet).includes('MultiHeadAttention') ? 'fused' : 'plain' };
    } finally {
      await sessions.release();
    }
  }

  it('fp16 with every fused form renders on the CPU EP within 4 levels per channel of the plain fp32 form', async () => {
    const plain = await render(PLAIN_FORM);
    const fused = await render(graphFormFor('webgpu', 'fp16-fused'));
    assert.strictEqual(plain.unetInput, 'plain');
    assert.strictEqual(fused.unetInput, 'fused');
    assert.strictEqual(fused.rgb.length, 64 * 64 * 3);
    assert.ok(new Set(plain.rgb).size > 16, 'the image is not flat');
    const worst = fused.rgb.reduce((m, v, i) => Math.max(m, Math.abs(v - plain.rgb[i])), 0);
    // fp16's 11 bits through 3 steps of a tiny UNet and the VAE: measured 2 levels at most (2189 of 12288 values
    // moved); 4 leaves room for another CPU's kernels, while a broken cast or a wrong fused op is tens of levels.
    assert.ok(worst <= 4, `differs by up to ${worst} levels`);
  });
});
