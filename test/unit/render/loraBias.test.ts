import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { computeAll, mergeIntoGraph } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { sessionModel } from '../../../server/src/render/merge/mergedModelFiles';
import { indexWeights, readOnnxModel, WeightEntry } from '../../../server/src/render/onnx/onnxIndex';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { random, readLoraModules, writeSafetensors } from './loraFiles';

/**
 * `diff_b` (kohya full / LyCORIS full: the bias delta) was mapped but never merged: the weight changed
 * and the bias did not. Now it is added to the module's bias (times the multiplier; no scale).
 */
const TO_OUT = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0'; // MatMul + Add, [16, 16]
const CONV1 = 'down_blocks.0.resnets.0.conv1'; // Conv [16, 16, 3, 3] with its bias as input 2
const KOHYA = (module: string) => `lora_unet_${module.replace(/\./g, '_')}`;

function stored(location: WeightEntry['location'], modelFile: string): Float32Array {
  const file = location.kind === 'external' ? location.file : modelFile;
  return new Float32Array(new Uint8Array(fs.readFileSync(file).subarray(location.offset, location.offset + location.length)).buffer);
}

describe('LoRA merge: diff_b changes the bias', function () {
  this.timeout(60000);
  let root: string;
  const kernel = new MergeKernel(ort);
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-bias-'));
    generateTinyPipeline(path.join(root, 'model'), TINY_SD15);
  });
  after(async () => {
    await kernel.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a full module on a Linear (MatMul then Add) and on a Conv: weight + m·diff and bias + m·diff_b, exactly', async () => {
    const tensors = {
      [`${KOHYA(TO_OUT)}.diff`]: { dims: [16, 16], data: random(256, 61) },
      [`${KOHYA(TO_OUT)}.diff_b`]: { dims: [16], data: random(16, 62) },
      [`${KOHYA(CONV1)}.diff`]: { dims: [16, 16, 3, 3], data: random(16 * 16 * 9, 63) },
      [`${KOHYA(CONV1)}.diff_b`]: { dims: [16], data: random(16, 64) },
    };
    const file = path.join(root, 'full.safetensors');
    writeSafetensors(file, tensors);
    const unet = path.join(root, 'model/unet/model.onnx');
    const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'full', modules: await readLoraModules(file), te: 1, unet: 0.5 }], { kernel });
    assert.deepStrictEqual(merged.reports, [{ name: 'full', matched: 2, unmatched: [], mismatched: [] }]);
    const index = indexWeights(readOnnxModel(unet));
    const [toOut, conv1] = [index.byModule.get(TO_OUT)!, index.byModule.get(CONV1)!];
    assert.deepStrictEqual(
      merged.patches.map((p) => p.initializer).sort(),
      [toOut.initializer, `${TO_OUT}.bias`, conv1.initializer, `${CONV1}.bias`].sort(),
    );
    const patched = await computeAll(merged);
    const floats = (name: string) => new Float32Array(patched.get(name)!.slice().buffer);
    // m·d with m = 0.5 is exact, so the fp32 sum is exactly fround(base + m·d).
    const expect = (base: Float32Array, delta: (i: number) => number) => Array.from(base, (b, i) => Math.fround(b + 0.5 * delta(i)));
    for (const [module, entry] of [
      [TO_OUT, toOut],
      [CONV1, conv1],
    ] as const) {
      const diffB = tensors[`${KOHYA(module)}.diff_b`].data;
      assert.deepStrictEqual(Array.from(floats(entry.bias!.initializer)), expect(stored(entry.bias!.location, unet), (i) => diffB[i]), `${module}.bias`);
    }
    // The weights too (to_out stored [in, out] for MatMul: element (i, o) is diff[o, i]).
    const diff = tensors[`${KOHYA(TO_OUT)}.diff`].data;
    assert.deepStrictEqual(Array.from(floats(toOut.initializer)), expect(stored(toOut.location, unet), (k) => diff[(k % 16) * 16 + Math.floor(k / 16)]));
    const convDiff = tensors[`${KOHYA(CONV1)}.diff`].data;
    assert.deepStrictEqual(Array.from(floats(conv1.initializer)), expect(stored(conv1.location, unet), (k) => convDiff[k]));
  });

  it('a bias without a module name (onnx::Add_N after the MatMul): found through the graph, and the session adds m·diff_b', async () => {
    const builder = new ModelBuilder(17);
    const g = builder.graph;
    const weight = random(8 * 4, 71);
    const bias = random(4, 72);
    g.input('x', 'float32', [1, 8]);
    g.initializer('onnx::MatMul_1', weight, [8, 4]);
    g.initializer('onnx::Add_2', bias, [4]);
    const scope = `/${TO_OUT.replace(/\./g, '/')}`;
    g.node('MatMul', ['x', 'onnx::MatMul_1'], ['h'], {}, `${scope}/MatMul`);
    g.node('Add', ['onnx::Add_2', 'h'], ['y'], {}, `${scope}/Add`);
    g.output('y', 'float32', [1, 4]);
    const modelFile = path.join(root, 'linear/model.onnx');
    fs.mkdirSync(path.dirname(modelFile), { recursive: true });
    builder.write(modelFile);
    const entry = indexWeights(readOnnxModel(modelFile)).byModule.get(TO_OUT)!;
    assert.deepStrictEqual(entry.bias && [entry.bias.initializer, entry.bias.dims], ['onnx::Add_2', [4]]);

    const diffB = Float32Array.of(1, -2, 0.25, 8);
    const file = path.join(root, 'bias-only.safetensors');
    writeSafetensors(file, { [`${KOHYA(TO_OUT)}.diff`]: { dims: [4, 8], data: new Float32Array(32) }, [`${KOHYA(TO_OUT)}.diff_b`]: { dims: [4], data: diffB } });
    const merged = await mergeIntoGraph(modelFile, 'unet', [{ name: 'b', modules: await readLoraModules(file), te: 1, unet: 0.5 }], { kernel });
    const model = await sessionModel(merged);
    const session = await ort.InferenceSession.create(model.bytes, { extra: { session: { model_external_initializers_file_folder_path: model.folder } } });
    const base = await ort.InferenceSession.create(modelFile);
    const feed = { x: new ort.Tensor('float32', random(8, 73), [1, 8]) };
    const got = Array.from((await session.run(feed)).y.data as Float32Array);
    const was = Array.from((await base.run(feed)).y.data as Float32Array);
    await Promise.all([session.release(), base.release()]);
    model.dispose();
    // y changes by exactly m·diff_b (the zero diff leaves x·W as it was): within fp32 rounding of the sum.
    got.forEach((y, o) => assert.ok(Math.abs(y - was[o] - 0.5 * diffB[o]) < 1e-6, `y[${o}]: ${y} against ${was[o]} + ${0.5 * diffB[o]}`));
  });
});
