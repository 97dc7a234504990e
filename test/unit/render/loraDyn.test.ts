import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { deltaWeight, lowRankFactors } from '../../../server/src/render/lora/loraMath';
import { LoraModule } from '../../../server/src/render/lora/loraKeys';
import { LoraTensor } from '../../../server/src/render/lora/loraTensors';
import { prepareLoras } from '../../../server/src/render/lora/prepare';
import { computeAll } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { mergeModel } from '../../../server/src/render/merge/mergeModel';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { indexWeights, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { renderLoras } from '../../../server/src/service/features/extensionRequests';
import type { LoraCatalog } from '../../../server/src/service/library/catalog';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { FIXTURES } from '../fixtures';
import { random, writeSafetensors } from './loraFiles';

/**
 * A1111's `dyn` (`<lora:name:te:unet:dyn>`): only the first `dyn` ranks of up and down are used, and
 * alpha is still divided by the full rank. It was parsed but never reached the merge.
 */
describe('LoRA dyn: from the tag to the merged weight', function () {
  this.timeout(60000);

  // up [3 × 4] = 1..12 row by row, down [4 × 2], alpha 2 over rank 4: scale 0.5.
  const lora: LoraModule<LoraTensor> = {
    component: 'unet',
    module: 'down_blocks.0.attentions.0.proj_in',
    kind: 'lora',
    tensors: {
      up: { dims: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i + 1) },
      down: { dims: [4, 2], data: Float32Array.of(1, 0, 0, 1, 1, 1, 2, -1) },
      alpha: { dims: [], data: Float32Array.of(2) },
    },
    sourceKeys: [],
  };

  it('lowRankFactors with dyn 2 keeps the first two columns of up and rows of down; the scale stays alpha / full rank', () => {
    const factors = lowRankFactors(lora, [3, 2], 2);
    assert.deepStrictEqual(
      factors && 'up' in factors ? { up: Array.from(factors.up), down: Array.from(factors.down), rank: factors.rank, scale: factors.scale } : factors,
      { up: [1, 2, 5, 6, 9, 10], down: [1, 0, 0, 1], rank: 2, scale: 0.5 },
    );
    const full = lowRankFactors(lora, [3, 2]);
    assert.deepStrictEqual(full && 'rank' in full ? [full.rank, full.scale, full.up.length, full.down.length] : full, [4, 0.5, 12, 8]);
  });

  it('deltaWeight with dyn 2 is 0.5 · up[:, :2] · down[:2]; without it, all four ranks', () => {
    assert.deepStrictEqual(Array.from(deltaWeight(lora, 1, [3, 2], { dyn: 2 }) as Float32Array), [0.5, 1, 2.5, 3, 4.5, 5]);
    // Row 0 in full: 1·[1, 0] + 2·[0, 1] + 3·[1, 1] + 4·[2, −1] = [12, 1].
    assert.deepStrictEqual(Array.from(deltaWeight(lora, 1, [3, 2]) as Float32Array), [6, 0.5, 14, 2.5, 22, 4.5]);
  });

  describe('through the render request', () => {
    let root: string;
    const kernel = new MergeKernel(ort);
    before(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-dyn-'));
      generateTinyPipeline(path.join(root, 'model'), { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    });
    after(async () => {
      await kernel.release();
      fs.rmSync(root, { recursive: true, force: true });
    });

    it('<lora:ranked:1:0.5:2> renders with the first two of four ranks merged into the UNet', async () => {
      const TO_K = 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k'; // torch [16, 32]
      const kohya = `lora_unet_${TO_K.replace(/\./g, '_')}`;
      const up = random(16 * 4, 51);
      const down = random(4 * 32, 52);
      const file = path.join(root, 'ranked.safetensors');
      writeSafetensors(file, {
        [`${kohya}.lora_down.weight`]: { dims: [4, 32], data: down },
        [`${kohya}.lora_up.weight`]: { dims: [16, 4], data: up },
        [`${kohya}.alpha`]: { dims: [], data: Float32Array.of(4) },
      });
      const catalog = { resolveLora: (name: string) => (name === 'ranked' ? { path: file, pickle: false, extension: '.safetensors' } : undefined) };
      const { loras, warnings } = renderLoras(parsePromptDocument('a cat <lora:ranked:1:0.5:2>\nSteps: 4'), catalog as unknown as LoraCatalog);
      assert.deepStrictEqual([loras, warnings], [[{ name: 'ranked', path: file, te: 1, unet: 0.5, dyn: 2 }], []]);

      const model = path.join(root, 'model');
      const prepared = await prepareLoras(loras);
      assert.strictEqual(prepared.inputs[0].dyn, 2);
      const { merged } = await mergeModel(openModelFolder(model), prepared, { kernel });
      const unet = path.join(model, 'unet/model.onnx');
      const entry = indexWeights(readOnnxModel(unet)).byModule.get(TO_K)!;
      const patched = (await computeAll(merged.get(unet)!)).get(entry.initializer)!;
      const got = new Float32Array(patched.slice().buffer);
      const loc = entry.location;
      const baseBytes = fs.readFileSync(loc.kind === 'external' ? loc.file : unet).subarray(loc.offset, loc.offset + loc.length);
      const base = new Float32Array(new Uint8Array(baseBytes).buffer);
      // Stored transposed for MatMul: [in 32, out 16]. Expected: base + 0.5 · (4/4) · Σ_{r<2} up[o, r] · down[r, i].
      let worst = 0;
      for (let i = 0; i < 32; i++) {
        for (let o = 0; o < 16; o++) {
          const delta = 0.5 * (up[o * 4] * down[i] + up[o * 4 + 1] * down[32 + i]);
          worst = Math.max(worst, Math.abs(got[i * 16 + o] - (base[i * 16 + o] + delta)));
        }
      }
      assert.ok(worst <= 1e-6, `largest difference ${worst}`);
    });
  });
});
