import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { mergeIntoGraph } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { sessionModel, writeMergedModel } from '../../../server/src/render/merge/mergedModelFiles';
import { indexWeights, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { random, readLoraModules, writeSafetensors } from './loraFiles';

/**
 * torch.onnx stores equal initializers once and re-creates each twin as `Identity(kept)`. A LoRA on one
 * module of such a weight was reported unmatched (the index saw one weight claimed by two modules). Now
 * the patched module gets a copy of its own and the other keeps the weight as it was.
 */
const ATTN = 'down_blocks.0.attentions.0.transformer_blocks.0.attn2';
const TO_K = `${ATTN}.to_k`;
const TO_V = `${ATTN}.to_v`;
const KOHYA = (module: string) => `lora_unet_${module.replace(/\./g, '_')}`;

describe('LoRA merge: a weight the exporter shared between two modules', function () {
  this.timeout(60000);
  let root: string;
  let modelFile: string;
  const kernel = new MergeKernel(ort);
  const weight = random(8 * 4, 81).map((v) => v * 5); // stored [in 8, out 4] for MatMul
  const x = random(2 * 8, 82).map((v) => v * 10);

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-shared-'));
    // to_k reads onnx::MatMul_1 directly; to_v reads its de-duplicated twin onnx::MatMul_2 = Identity(onnx::MatMul_1).
    const builder = new ModelBuilder(17);
    const g = builder.graph;
    g.input('x', 'float32', [2, 8]);
    g.initializer('onnx::MatMul_1', weight, [8, 4]);
    g.node('Identity', ['onnx::MatMul_1'], ['onnx::MatMul_2'], {}, 'Identity_0');
    g.node('MatMul', ['x', 'onnx::MatMul_1'], ['k'], {}, `/${TO_K.replace(/\./g, '/')}/MatMul`);
    g.node('MatMul', ['x', 'onnx::MatMul_2'], ['v'], {}, `/${TO_V.replace(/\./g, '/')}/MatMul`);
    g.output('k', 'float32', [2, 4]);
    g.output('v', 'float32', [2, 4]);
    modelFile = path.join(root, 'unet/model.onnx');
    fs.mkdirSync(path.dirname(modelFile), { recursive: true });
    builder.write(modelFile, { externalDataFile: 'model.onnx_data' });
  });
  after(async () => {
    await kernel.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('the index gives each module its weight: to_k the stored one, to_v its twin', () => {
    const index = indexWeights(readOnnxModel(modelFile));
    assert.deepStrictEqual(
      [TO_K, TO_V].map((m) => [index.byModule.get(m)?.initializer, index.byModule.get(m)?.twinOf]),
      [
        ['onnx::MatMul_1', undefined],
        ['onnx::MatMul_2', 'onnx::MatMul_1'],
      ],
    );
    assert.deepStrictEqual(index.unattributed, []);
  });

  /** y = x · (W + 0.5·ΔWᵀ) per output, with ΔW = up · down (torch [out 4, in 8]), in fp64. */
  const expected = (up: Float32Array, down: Float32Array | undefined) =>
    Array.from({ length: 8 }, (_, k) => {
      const [row, o] = [Math.floor(k / 4), k % 4];
      let y = 0;
      for (let i = 0; i < 8; i++) {
        const delta = down ? up[o * 2] * down[i] + up[o * 2 + 1] * down[8 + i] : 0;
        y += x[row * 8 + i] * (weight[i * 4 + o] + 0.5 * delta);
      }
      return y;
    });

  for (const [patched, kept] of [
    [TO_V, TO_K],
    [TO_K, TO_V],
  ]) {
    for (const placement of ['file', 'inline', 'written'] as const) {
      it(`a LoRA on ${patched.split('.').pop()} only (${placement}): that module changes, ${kept.split('.').pop()} keeps the shared weight`, async () => {
        const up = random(4 * 2, 83);
        const down = random(2 * 8, 84);
        const file = path.join(root, 'one.safetensors');
        writeSafetensors(file, { [`${KOHYA(patched)}.lora_up.weight`]: { dims: [4, 2], data: up }, [`${KOHYA(patched)}.lora_down.weight`]: { dims: [2, 8], data: down } });
        const merged = await mergeIntoGraph(modelFile, 'unet', [{ name: 'one', modules: await readLoraModules(file), te: 1, unet: 0.5 }], { kernel });
        assert.deepStrictEqual(merged.reports, [{ name: 'one', matched: 1, unmatched: [], mismatched: [] }]);
        let session: ort.InferenceSession;
        if (placement === 'written') {
          const out = path.join(root, `written-${patched}/model.onnx`);
          fs.mkdirSync(path.dirname(out), { recursive: true });
          fs.copyFileSync(path.join(root, 'unet/model.onnx_data'), path.join(path.dirname(out), 'model.onnx_data'));
          await writeMergedModel(merged, out);
          session = await ort.InferenceSession.create(out);
        } else {
          const model = await sessionModel(merged, { placement });
          session = await ort.InferenceSession.create(model.bytes, { extra: { session: { model_external_initializers_file_folder_path: model.folder } } });
          model.dispose();
        }
        const result = await session.run({ x: new ort.Tensor('float32', x, [2, 8]) });
        await session.release();
        const output = (module: string) => Array.from(result[module === TO_K ? 'k' : 'v'].data as Float32Array);
        const close = (got: number[], want: number[]) => got.every((v, k) => Math.abs(v - want[k]) <= 1e-5 * Math.max(1, Math.abs(want[k])));
        assert.ok(close(output(patched), expected(up, down)), `${patched}: ${output(patched)} against ${expected(up, down)}`);
        assert.ok(close(output(kept), expected(up, undefined)), `${kept}: ${output(kept)} against ${expected(up, undefined)}`);
      });
    }
  }
});
