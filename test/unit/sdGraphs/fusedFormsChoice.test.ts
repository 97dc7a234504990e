import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { toFloat16 } from '../../../server/src/render/onnx/half';
import { attrFloat, ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { PipelineComponent } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointGraphs, CheckpointGraphsRequest } from '../../../server/src/render/sdGraphs/graphFiles';
import { describeForm, graphFormFor, PLAIN_FORM } from '../../../server/src/render/sdGraphs/graphOptions';
import { createDeviceGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import { architectureOf, generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { folderTwinSource } from './folderTwinSource';

/** Which graph form each execution provider gets, the override, the fallback, and what onnxruntime-node registers. */

const ALL = { attention: true, skipLayerNorm: true, gelu: true };
const NONE = { attention: false, skipLayerNorm: false, gelu: false };

describe('Graph form per execution provider', () => {
  it('the CPU gets fp32 with fused attention, CoreML plain fp32; WebGPU, CUDA and DirectML get fp16 with every fused form', () => {
    assert.deepStrictEqual(graphFormFor('cpu', undefined), { dtype: 'float32', fused: { ...NONE, attention: true } });
    assert.deepStrictEqual(graphFormFor('coreml', undefined), { dtype: 'float32', fused: NONE });
    for (const gpu of ['webgpu', 'cuda', 'dml'] as const) assert.deepStrictEqual(graphFormFor(gpu, undefined), { dtype: 'float16', fused: ALL }, gpu);
    assert.strictEqual(describeForm(graphFormFor('webgpu', undefined)), 'fp16 + MultiHeadAttention, SkipLayerNormalization, Gelu');
    assert.strictEqual(describeForm(PLAIN_FORM), 'fp32 plain');
  });

  it('SD_PROMPT_GRAPH_FORM replaces the choice on every device; an unknown value is refused with the known ones', () => {
    assert.deepStrictEqual(graphFormFor('webgpu', 'plain'), PLAIN_FORM);
    assert.deepStrictEqual(graphFormFor('cpu', 'fused'), { dtype: 'float32', fused: ALL });
    assert.deepStrictEqual(graphFormFor('cpu', 'fp16'), { dtype: 'float16', fused: NONE });
    assert.deepStrictEqual(graphFormFor('cuda', 'fp16-fused'), { dtype: 'float16', fused: ALL });
    assert.deepStrictEqual(graphFormFor('cuda', ''), graphFormFor('cuda', undefined));
    assert.throws(() => graphFormFor('cpu', 'fast'), /^Error: SD_PROMPT_GRAPH_FORM=fast is not a graph form\. Known: plain, fused, fp16, fp16-fused\.$/);
  });
});

describe('Device graph sessions', function () {
  this.timeout(120000);
  let root = '';
  let request: Omit<CheckpointGraphsRequest, 'dtype' | 'fused'>;
  let close = () => {};
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-form-choice-'));
    const folder = path.join(root, 'sd15');
    const generated = generateTinyPipeline(folder, TINY_SD15);
    const source = folderTwinSource(generated);
    close = () => source.close();
    request = { checkpoint: path.join(folder, 'unet/model.onnx_data'), architecture: architectureOf(TINY_SD15), source, cacheRoot: path.join(root, 'cache') };
  });
  after(() => {
    close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function release(sessions: Partial<Record<PipelineComponent, ort.InferenceSession>>): Promise<void> {
    for (const s of Object.values(sessions)) await s?.release();
  }

  it('the CPU opens fp32 graphs with fused attention, with no note', async () => {
    const opened = await createDeviceGraphSessions(ort, 'cpu', request, { executionProviders: ['cpu'], logSeverityLevel: 3 }, checkpointGraphs, '');
    try {
      assert.deepStrictEqual(opened.form, { dtype: 'float32', fused: { ...NONE, attention: true } });
      assert.strictEqual(opened.note, undefined);
      assert.deepStrictEqual(Object.keys(opened.sessions).sort(), ['text_encoder', 'unet', 'vae_decoder']);
      assert.strictEqual((opened.sessions.unet!.inputMetadata.find((m) => m.name === 'sample') as { type?: string } | undefined)?.type, 'float32');
    } finally {
      await release(opened.sessions);
    }
  });

  it('a fused form whose sessions fail to create falls back to the plain graphs with a note naming the device, form and error', async () => {
    const forms: string[] = [];
    // An EP build without the contrib kernels: any graph importing com.microsoft fails, as a missing kernel does.
    const noContribOrt = {
      ...ort,
      InferenceSession: {
        create: async (model: string, options: ort.InferenceSession.SessionOptions) => {
          if (fs.readFileSync(model).includes('com.microsoft')) throw new Error("Could not find an implementation for SkipLayerNormalization(1) node with name 'x'\nmore");
          return ort.InferenceSession.create(model, options);
        },
      },
    } as unknown as typeof ort;
    const opened = await createDeviceGraphSessions(
      noContribOrt,
      'webgpu',
      request,
      { executionProviders: ['cpu'], logSeverityLevel: 3 },
      (r) => {
        forms.push(`${r.dtype} ${JSON.stringify(r.fused)}`);
        return checkpointGraphs(r);
      },
      'fused',
    );
    try {
      assert.deepStrictEqual(forms, [`float32 ${JSON.stringify(ALL)}`, `float32 ${JSON.stringify(NONE)}`]);
      assert.deepStrictEqual(opened.form, PLAIN_FORM);
      assert.strictEqual(
        opened.note,
        "webgpu: the fp32 + MultiHeadAttention, SkipLayerNormalization, Gelu graphs did not load (Could not find an implementation for SkipLayerNormalization(1) node with name 'x'); rendering with the plain fp32 graphs",
      );
      const out = await opened.sessions.vae_decoder!.run({ latent_sample: new ort.Tensor('float32', new Float32Array(64), [1, 4, 4, 4]) });
      assert.deepStrictEqual(out.sample.dims, [1, 3, 32, 32]);
    } finally {
      await release(opened.sessions);
    }
  });

  it('the plain form failing is the device failing: the error is thrown, not noted', async () => {
    const broken = { ...ort, InferenceSession: { create: async () => Promise.reject(new Error('no adapter')) } } as unknown as typeof ort;
    await assert.rejects(createDeviceGraphSessions(broken, 'cpu', request, {}, checkpointGraphs, 'plain'), /^Error: no adapter$/);
  });
});

/**
 * What onnxruntime-node registers, found by creating and running a one-node graph of each contrib op: the facts
 * graphFormFor's table rests on. A change here (an onnxruntime upgrade) is a reason to revisit the table.
 */
describe('onnxruntime-node contrib kernels (one-node graphs)', function () {
  this.timeout(240000);
  const CASES: Record<string, { inputs: number[][]; attrs: Parameters<ModelBuilder['graph']['node']>[3] }> = {
    SkipLayerNormalization: { inputs: [[1, 4, 8], [1, 4, 8], [8], [8]], attrs: { epsilon: attrFloat(1e-5) } },
    Gelu: { inputs: [[1, 4, 8]], attrs: {} },
    MultiHeadAttention: { inputs: [[1, 4, 8], [1, 4, 8], [1, 4, 8]], attrs: { num_heads: 2 } },
    GroupNorm: { inputs: [[1, 4, 4, 32], [32], [32]], attrs: { epsilon: attrFloat(1e-5), groups: 8, activation: 0 } },
  };

  async function runs(ep: 'cpu' | 'webgpu', op: string, dtype: 'float32' | 'float16'): Promise<true | string> {
    const { inputs, attrs } = CASES[op];
    const model = new ModelBuilder(17);
    model.opsets.set('com.microsoft', 1);
    const names = inputs.map((shape, i) => model.graph.input(`x${i}`, dtype, shape));
    model.graph.node(op, names, ['y'], attrs, 'n', 'com.microsoft');
    model.graph.output('y', dtype);
    try {
      const session = await ort.InferenceSession.create(model.serialize().model, { executionProviders: [ep], logSeverityLevel: 4 });
      const feeds: Record<string, ort.Tensor> = {};
      inputs.forEach((shape, i) => {
        const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(j + i));
        feeds[`x${i}`] = new ort.Tensor(dtype, dtype === 'float16' ? toFloat16(values) : values, shape);
      });
      await session.run(feeds);
      await session.release();
      return true;
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  }

  it('CPU: SkipLayerNormalization, Gelu and MultiHeadAttention run in fp32; GroupNorm has no kernel', async () => {
    assert.strictEqual(await runs('cpu', 'SkipLayerNormalization', 'float32'), true);
    assert.strictEqual(await runs('cpu', 'Gelu', 'float32'), true);
    assert.strictEqual(await runs('cpu', 'MultiHeadAttention', 'float32'), true);
    assert.match(String(await runs('cpu', 'GroupNorm', 'float32')), /Could not find an implementation for GroupNorm/);
  });

  it('WebGPU: the three fused forms run in fp32 and fp16; GroupNorm fails to create', async function () {
    const probe = await runs('webgpu', 'Gelu', 'float32');
    if (probe !== true && /webgpu|adapter|provider/i.test(probe)) {
      console.log(`      WebGPU unavailable here: ${probe}`);
      this.skip();
    }
    for (const op of ['SkipLayerNormalization', 'Gelu', 'MultiHeadAttention']) {
      for (const dtype of ['float32', 'float16'] as const) assert.strictEqual(await runs('webgpu', op, dtype), true, `${op} ${dtype}`);
    }
    assert.notStrictEqual(await runs('webgpu', 'GroupNorm', 'float32'), true);
  });
});
