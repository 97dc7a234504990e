import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { FusedForms } from '../../../server/src/render/sdGraphs/net';
import { TINY_SD15, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { outputsOf, over, relativeDiffs, tinyCheckpointGraphs } from './graphOutputs';

/**
 * Each fused form alone (com.microsoft SkipLayerNormalization, Gelu, MultiHeadAttention), all of them, and fp16
 * graphs compute what the plain fp32 graphs compute, on the CPU EP and on WebGPU (Mesa's lavapipe here and in CI).
 *
 * Tolerances, relative to each output's largest magnitude:
 *  - fused fp32 on the CPU: 1e-4. The fused kernels do the same fp32 arithmetic in another order (a LayerNorm's
 *    mean and variance in one pass, attention's softmax tiled), which moves the last bits; 1e-4 is ~1000 ulp at
 *    the scale and still fails for any wrong epsilon, swapped input or tanh-approximated GELU (FastGelu is 1e-3 off).
 *  - fused fp32 on WebGPU against plain fp32 on the CPU: 1e-3 (lavapipe's shaders use fused multiply-adds and
 *    their own exp/erf; the MHA test measured 2e-4).
 *  - fp16 on WebGPU against fp32 on the CPU: 2e-2. fp16 keeps 11 bits (5e-4 per rounding); through two resnet
 *    levels, attention and a VAE the errors add up to ~1e-2, while a wrong cast or an fp16 overflow gives O(1) or NaN.
 */

const FORMS: [string, FusedForms, string, string][] = [
  // name, the form, the op it emits in the UNet, the plain op it replaces there
  ['SkipLayerNormalization', { skipLayerNorm: true }, 'SkipLayerNormalization', 'Add'],
  ['Gelu', { gelu: true }, 'Gelu', 'Erf'],
  ['MultiHeadAttention', { attention: true }, 'MultiHeadAttention', 'Softmax'],
];

function opCount(file: string, opType: string, domain?: string): number {
  return readOnnxModel(file).graph.nodes.filter((n) => n.opType === opType && (domain === undefined || n.domain === domain)).length;
}

let webgpuProbe: Promise<string | undefined> | undefined;

/** Why this machine has no WebGPU EP (undefined when it has one): a one-node graph that must run on it. */
function webgpuMissing(): Promise<string | undefined> {
  webgpuProbe ??= (async () => {
    const model = new ModelBuilder(17);
    model.graph.input('x', 'float32', [2]);
    model.graph.node('Relu', ['x'], ['y'], {}, 'relu');
    model.graph.output('y', 'float32', [2]);
    try {
      const session = await ort.InferenceSession.create(model.serialize().model, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
      await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 1), [2]) });
      await session.release();
      return undefined;
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  })();
  return webgpuProbe;
}

/** Skips (saying why) where WebGPU is absent; where it is present, a graph that fails on it fails the test. */
async function needWebgpu(ctx: Mocha.Context): Promise<void> {
  const missing = await webgpuMissing();
  if (missing) {
    // CI installs Mesa's lavapipe so this runs there.
    console.log(`      WebGPU unavailable here: ${missing}`);
    ctx.skip();
  }
}

describe('Fused forms and fp16 checkpoint graphs', function () {
  this.timeout(240000);
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-fused-forms-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const [name, form, fusedOp, plainOp] of FORMS) {
    it(`${name} alone: emitted in the UNet in place of ${plainOp}, outputs within 1e-4 of the plain graphs on the CPU`, async () => {
      const plain = tinyCheckpointGraphs(root, TINY_SD15, 'float32', false);
      const fused = tinyCheckpointGraphs(root, TINY_SD15, 'float32', form);
      assert.notStrictEqual(fused.folder, plain.folder, 'the cache key includes the form');
      const unet = fused.graphs.unet!.model;
      // TINY_SD15 has 4 transformer blocks (down 0, the middle, up 1 twice); per block 2 residual adds before a
      // LayerNorm, 1 GEGLU gate, 2 attentions.
      const perBlock = { SkipLayerNormalization: 2, Gelu: 1, MultiHeadAttention: 2 }[fusedOp]!;
      assert.strictEqual(opCount(unet, fusedOp, 'com.microsoft'), 4 * perBlock);
      const replaced = opCount(plain.graphs.unet!.model, plainOp) - opCount(unet, plainOp);
      assert.strictEqual(replaced, 4 * perBlock);
      const diffs = relativeDiffs(await outputsOf(TINY_SD15, plain, 'cpu', 'float32'), await outputsOf(TINY_SD15, fused, 'cpu', 'float32'));
      assert.deepStrictEqual(over(diffs, 1e-4), [], JSON.stringify(diffs));
      // Not a test that cannot fail: the form changed the UNet's output bits at least somewhere, or matched them exactly.
      assert.ok(diffs['unet.out_sample'] >= 0);
    });

    it(`${name} alone on WebGPU: within 1e-3 of the plain graphs on the CPU`, async function () {
      const plain = tinyCheckpointGraphs(root, TINY_SD15, 'float32', false);
      const fused = tinyCheckpointGraphs(root, TINY_SD15, 'float32', form);
      await needWebgpu(this);
      const onGpu = await outputsOf(TINY_SD15, fused, 'webgpu', 'float32');
      const diffs = relativeDiffs(await outputsOf(TINY_SD15, plain, 'cpu', 'float32'), onGpu);
      assert.deepStrictEqual(over(diffs, 1e-3), [], JSON.stringify(diffs));
    });
  }

  it('SDXL with every fused form: within 1e-4 of the plain graphs on the CPU', async () => {
    const plain = tinyCheckpointGraphs(root, TINY_SDXL, 'float32', false);
    const fused = tinyCheckpointGraphs(root, TINY_SDXL, 'float32', true);
    const diffs = relativeDiffs(await outputsOf(TINY_SDXL, plain, 'cpu', 'float32'), await outputsOf(TINY_SDXL, fused, 'cpu', 'float32'));
    assert.deepStrictEqual(over(diffs, 1e-4), [], JSON.stringify(diffs));
  });

  it('fp16 graphs keep LayerNorm, GroupNorm statistics and softmax in fp32, and the timestep embedding', () => {
    const half = tinyCheckpointGraphs(root, TINY_SD15, 'float16', false);
    const model = readOnnxModel(half.graphs.unet!.model);
    const inputTypes = (op: string) => new Set(model.graph.nodes.filter((n) => n.opType === op).map((n) => producerCastTo(model, n.inputs[0])));
    // Every one of these ops reads a Cast to float (ONNX type 1).
    assert.deepStrictEqual([...inputTypes('LayerNormalization')], [1]);
    assert.deepStrictEqual([...inputTypes('InstanceNormalization')], [1]);
    assert.deepStrictEqual([...inputTypes('Softmax')], [1]);
    assert.deepStrictEqual([...inputTypes('Cos')].length, 1);
  });

  for (const [label, fused] of [['plain', false], ['every fused form', true]] as const) {
    it(`fp16 ${label} on WebGPU: within 2e-2 of fp32 plain on the CPU (UNet, VAE, text encoder)`, async function () {
      const plain = tinyCheckpointGraphs(root, TINY_SD15, 'float32', false);
      const half = tinyCheckpointGraphs(root, TINY_SD15, 'float16', fused);
      await needWebgpu(this);
      const onGpu = await outputsOf(TINY_SD15, half, 'webgpu', 'float16');
      const diffs = relativeDiffs(await outputsOf(TINY_SD15, plain, 'cpu', 'float32'), onGpu);
      assert.ok(['unet.out_sample', 'vae_decoder.sample', 'text_encoder.last_hidden_state'].every((k) => k in diffs), Object.keys(diffs).join());
      assert.deepStrictEqual(over(diffs, 2e-2), [], JSON.stringify(diffs));
    });
  }
});

/** The Cast `to` type of the node that produces `value` (undefined when it is not a Cast). */
function producerCastTo(model: ReturnType<typeof readOnnxModel>, value: string): number | undefined {
  const node = model.graph.nodes.find((n) => n.outputs.includes(value));
  if (!node || node.opType !== 'Cast') return undefined;
  const to = node.attributes.to?.i;
  return to === undefined ? undefined : Number(to);
}
