import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isLoraKeyMapError, mapLoraKeys } from '../../../server/src/render/lora/loraKeys';
import { indexWeights, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';

/**
 * Which text-encoder weight each LoRA key patches, in the three naming styles (kohya, PEFT/diffusers,
 * diffusers' old attention processors): a key landing on its neighbour's weight (to_k on v_proj) would
 * merge into a weight of the same shape and no test would notice.
 */
const LAYER = 'text_model.encoder.layers.0';
const TARGETS: [string, string][] = [
  ['q', 'self_attn.q_proj'],
  ['k', 'self_attn.k_proj'],
  ['v', 'self_attn.v_proj'],
  ['out', 'self_attn.out_proj'],
  ['fc1', 'mlp.fc1'],
  ['fc2', 'mlp.fc2'],
];

describe('LoRA keys: the text-encoder weight each key patches', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-te-keys-'));
    generateTinyPipeline(root, TINY_SD15);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Each key pair's module, and the MatMul node its weight feeds in the tiny text encoder. */
  function landing(pairs: Record<string, [string, string]>): Record<string, [string, string | undefined]> {
    const index = indexWeights(readOnnxModel(path.join(root, 'text_encoder/model.onnx')));
    const out: Record<string, [string, string | undefined]> = {};
    for (const [label, keys] of Object.entries(pairs)) {
      const map = mapLoraKeys(keys);
      assert.ok(!isLoraKeyMapError(map));
      assert.deepStrictEqual(map.unmatched, [], label);
      assert.strictEqual(map.modules.length, 1, label);
      const m = map.modules[0];
      out[label] = [`${m.component}:${m.module}`, index.byModule.get(m.module)?.node];
    }
    return out;
  }
  const expected = Object.fromEntries(
    TARGETS.map(([label, target]) => [label, [`text_encoder:${LAYER}.${target}`, `/text_model/encoder/layers.0/${target.replace('.', '/')}/MatMul`]]),
  );

  it('kohya lora_te_ names', () => {
    const kohya = (target: string) => `lora_te_${LAYER.replace(/\./g, '_')}_${target.replace(/\./g, '_')}`;
    assert.deepStrictEqual(
      landing(Object.fromEntries(TARGETS.map(([label, target]) => [label, [`${kohya(target)}.lora_up.weight`, `${kohya(target)}.lora_down.weight`]]))),
      expected,
    );
  });

  it('PEFT / diffusers names (lora_A/lora_B, and lora_linear_layer on the MLP)', () => {
    const peft = (label: string, target: string): [string, string] =>
      label.startsWith('fc')
        ? [`text_encoder.${LAYER}.${target}.lora_linear_layer.up.weight`, `text_encoder.${LAYER}.${target}.lora_linear_layer.down.weight`]
        : [`text_encoder.${LAYER}.${target}.lora_B.weight`, `text_encoder.${LAYER}.${target}.lora_A.weight`];
    assert.deepStrictEqual(landing(Object.fromEntries(TARGETS.map(([label, target]) => [label, peft(label, target)]))), expected);
  });

  it("diffusers' old attention processors: to_q/to_k/to_v/to_out_lora land on q/k/v/out_proj", () => {
    const processor = (label: string): [string, string] => [`text_encoder.${LAYER}.self_attn.to_${label}_lora.up.weight`, `text_encoder.${LAYER}.self_attn.to_${label}_lora.down.weight`];
    const attention = TARGETS.slice(0, 4);
    assert.deepStrictEqual(
      landing(Object.fromEntries(attention.map(([label]) => [label, processor(label)]))),
      Object.fromEntries(attention.map(([label]) => [label, expected[label]])),
    );
  });
});
