import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { computeAll } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { mergeModel } from '../../../server/src/render/merge/mergeModel';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { LoraSpec, prepareLoras } from '../../../server/src/render/lora/prepare';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { random, writeSafetensors } from './loraFiles';

/**
 * A LoRA with NaN/Inf values (in a factor, or from a product that overflows) rendered black and was
 * reported merged. It is refused as a whole, naming the module, and the other LoRAs still merge.
 */
const TO_K = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k';
const Q_PROJ = 'lora_te_text_model_encoder_layers_0_self_attn_q_proj';
type Tensors = Record<string, { dims: number[]; data: Float32Array }>;

/** A rank-2 kohya LoRA on the UNet's first to_k [16, 32] and the text encoder's first q_proj [32, 32]. */
function twoModules(seed: number, up: Float32Array = random(32, seed + 1), down: Float32Array = random(64, seed)): Tensors {
  return {
    [`${TO_K}.lora_down.weight`]: { dims: [2, 32], data: down },
    [`${TO_K}.lora_up.weight`]: { dims: [16, 2], data: up },
    [`${Q_PROJ}.lora_down.weight`]: { dims: [2, 32], data: random(64, seed + 2) },
    [`${Q_PROJ}.lora_up.weight`]: { dims: [32, 2], data: random(64, seed + 3) },
  };
}

describe('LoRA merge: NaN/Inf values refuse the LoRA (lora-merge-nonfinite)', function () {
  this.timeout(60000);
  let root: string;
  let fp16: string;
  const kernel = new MergeKernel(ort);

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-nonfinite-'));
    generateTinyPipeline(path.join(root, 'fp32'), { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    fp16 = path.join(root, 'fp16');
    generateTinyPipeline(fp16, { ...TINY_SD15, dtype: 'fp16', tokenizerFrom: path.join(FIXTURES, 'clip') });
  });
  after(async () => {
    await kernel.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const lora = (name: string, tensors: Tensors): LoraSpec => {
    const file = path.join(root, `${name}.safetensors`);
    writeSafetensors(file, tensors);
    return { name, path: file, te: 1, unet: 1 };
  };

  /** Every patched weight's bytes, per graph file, as hex (comparable with deepStrictEqual). */
  async function mergedWeights(model: string, specs: LoraSpec[]) {
    const result = await mergeModel(openModelFolder(model), await prepareLoras(specs), { kernel });
    const weights: Record<string, Record<string, string>> = {};
    for (const [file, graph] of result.merged) {
      weights[path.relative(model, file)] = Object.fromEntries([...(await computeAll(graph))].map(([name, bytes]) => [name, Buffer.from(bytes).toString('hex')]));
    }
    return { reports: result.loras, weights };
  }

  for (const [value, where] of [
    [NaN, 'lora_up.weight'],
    [Infinity, 'lora_down.weight'],
  ] as const) {
    it(`a ${value} in ${where}: the LoRA is refused with the module and tensor named, none of its modules applied, the other LoRA merged`, async () => {
      const model = path.join(root, 'fp32');
      const bad = twoModules(10);
      bad[`${TO_K}.${where}`].data[5] = value;
      const good = lora('good', twoModules(20));
      const both = await mergedWeights(model, [lora(`bad-${where}`, bad), good]);
      assert.deepStrictEqual(both.reports, [
        { name: 'good', file: good.path, te: 1, unet: 1, matched: 2, unmatched: [], mismatched: [] },
        {
          name: `bad-${where}`,
          file: path.join(root, `bad-${where}.safetensors`),
          te: 0,
          unet: 0,
          matched: 0,
          unmatched: [],
          mismatched: [],
          error: `${TO_K} has NaN/Inf values in ${where}`,
          code: 'lora-merge-nonfinite',
        },
      ]);
      // Exactly what the good LoRA alone merges: nothing of the bad one, in the UNet or the text encoder.
      assert.deepStrictEqual(both.weights, (await mergedWeights(model, [good])).weights);
      assert.deepStrictEqual(Object.keys(both.weights).sort(), ['text_encoder/model.onnx', 'unet/model.onnx']);
    });
  }

  it('finite factors whose product overflows fp32: refused, and its text-encoder module (merged first) is taken out again', async () => {
    const model = path.join(root, 'fp32');
    // 1e20 · 1e20 = 1e40 > 3.4e38: each factor is finite, the product is Inf.
    const overflowing = lora('huge', twoModules(30, new Float32Array(32).fill(1e20), new Float32Array(64).fill(1e20)));
    const good = lora('good', twoModules(20));
    const both = await mergedWeights(model, [overflowing, good]);
    assert.deepStrictEqual(both.reports, [
      { name: 'good', file: good.path, te: 1, unet: 1, matched: 2, unmatched: [], mismatched: [] },
      {
        name: 'huge',
        file: overflowing.path,
        te: 1,
        unet: 1,
        matched: 0,
        unmatched: [],
        mismatched: [],
        error: `${TO_K}: its weight change overflows fp32 to NaN/Inf values`,
        code: 'lora-merge-nonfinite',
      },
    ]);
    assert.deepStrictEqual(both.weights, (await mergedWeights(model, [good])).weights);
  });

  it('into an fp16 model, a change beyond fp16 (65504) is refused; the same LoRA at a small enough multiplier merges', async () => {
    // Every product value is 2 · 300 · 300 = 180000 (rank 2, scale 1).
    const tensors = twoModules(40, new Float32Array(32).fill(300), new Float32Array(64).fill(300));
    const spec = lora('big', tensors);
    const refused = await mergedWeights(fp16, [spec]);
    assert.deepStrictEqual(
      refused.reports.map((r) => [r.name, r.matched, r.error, r.code]),
      [['big', 0, `${TO_K}: its weight change overflows fp16 to NaN/Inf values`, 'lora-merge-nonfinite']],
    );
    assert.deepStrictEqual(refused.weights, {});
    const scaled = await mergedWeights(fp16, [{ ...spec, unet: 0.25 }]);
    assert.deepStrictEqual(
      scaled.reports.map((r) => [r.name, r.matched, r.error]),
      [['big', 2, undefined]],
    );
  });
});
