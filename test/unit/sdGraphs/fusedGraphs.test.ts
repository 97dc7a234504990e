import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { indexWeights, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { PipelineComponent } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointGraphs, CheckpointGraphs } from '../../../server/src/render/sdGraphs/graphFiles';
import { createGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import { architectureOf, generateTinyPipeline, PipelineConfig, TINY_SD15, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { folderTwinSource } from './folderTwinSource';

/**
 * Fused graphs (onnxruntime's com.microsoft MultiHeadAttention instead of MatMul/Softmax/MatMul in the UNet and
 * the VAE; the text encoder's masked attention stays plain) compute
 * what the plain graphs compute: within 1e-4 of the output's scale on the CPU EP, and within 1e-3 on WebGPU
 * (lavapipe in CI) against the plain graphs on the CPU. The LoRA index still finds every projection.
 */

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function feeds(config: PipelineConfig, component: PipelineComponent): Record<string, ort.Tensor> {
  const arch = architectureOf(config);
  if (component.startsWith('text_encoder')) {
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 7 ? 400 + 13 * i : 49407));
    return { input_ids: new ort.Tensor('int32', ids, [1, 77]) };
  }
  if (component === 'unet') {
    const f: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', seeded(4 * 8 * 8, 1), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(700), [1]),
      encoder_hidden_states: new ort.Tensor('float32', seeded(77 * arch.unet.contextDim, 2), [1, 77, arch.unet.contextDim]),
    };
    if (config.base === 'sdxl') {
      const pooled = config.hiddenSize2 ?? 0;
      f.text_embeds = new ort.Tensor('float32', seeded(pooled, 3), [1, pooled]);
      f.time_ids = new ort.Tensor('float32', Float32Array.of(64, 64, 0, 0, 64, 64), [1, 6]);
    }
    return f;
  }
  return { latent_sample: new ort.Tensor('float32', seeded(4 * 4 * 4, 4), [1, 4, 4, 4]) };
}

async function outputsOf(config: PipelineConfig, graphs: CheckpointGraphs, ep: 'cpu' | 'webgpu'): Promise<Record<string, Float32Array>> {
  const sessions = await createGraphSessions(ort, graphs, { executionProviders: [ep], logSeverityLevel: 3 });
  const out: Record<string, Float32Array> = {};
  try {
    for (const [component, session] of Object.entries(sessions) as [PipelineComponent, ort.InferenceSession][]) {
      const result = await session.run(feeds(config, component));
      for (const [name, t] of Object.entries(result)) out[`${component}.${name}`] = t.data as Float32Array;
    }
  } finally {
    for (const s of Object.values(sessions)) await s?.release();
  }
  return out;
}

function relativeDiffs(a: Record<string, Float32Array>, b: Record<string, Float32Array>): Record<string, number> {
  const diffs: Record<string, number> = {};
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    assert.ok(y && y.length === x.length, name);
    let scale = 1e-3;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(x[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    diffs[name] = diff / scale;
  }
  return diffs;
}

describe('Fused graphs (MultiHeadAttention)', function () {
  this.timeout(240000);
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-fused-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function graphsFor(config: PipelineConfig, fused: boolean): CheckpointGraphs {
    const folder = path.join(root, `${config.base}`);
    if (!fs.existsSync(folder)) generateTinyPipeline(folder, config);
    const generated = { folder, models: generateTinyPipeline(path.join(root, `${config.base}-records`), config).models };
    const source = folderTwinSource(generated);
    try {
      return checkpointGraphs({ checkpoint: path.join(folder, 'unet/model.onnx_data'), architecture: architectureOf(config), source, dtype: 'float32', fused, cacheRoot: path.join(root, 'cache') });
    } finally {
      source.close();
    }
  }

  for (const config of [TINY_SD15, TINY_SDXL]) {
    it(`${config.base}: fused and plain agree on the CPU, and the LoRA index finds the same weights`, async () => {
      const plain = graphsFor(config, false);
      const fused = graphsFor(config, true);
      assert.notStrictEqual(plain.folder, fused.folder);
      const unet = readOnnxModel(fused.graphs.unet!.model);
      assert.ok(unet.graph.nodes.some((n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft'));
      assert.ok(!unet.graph.nodes.some((n) => n.opType === 'Softmax'));
      // The text encoder's causal attention stays plain (see Net.attention).
      assert.ok(!readOnnxModel(fused.graphs.text_encoder!.model).graph.nodes.some((n) => n.opType === 'MultiHeadAttention'));
      for (const component of Object.keys(plain.graphs) as PipelineComponent[]) {
        const rows = (g: CheckpointGraphs) => indexWeights(readOnnxModel(g.graphs[component]!.model)).weights.map((w) => `${w.module} ${w.op} ${w.layout}`);
        assert.deepStrictEqual(rows(fused), rows(plain), component);
      }
      const diffs = relativeDiffs(await outputsOf(config, plain, 'cpu'), await outputsOf(config, fused, 'cpu'));
      assert.deepStrictEqual(Object.entries(diffs).filter(([, d]) => !(d <= 1e-4)), [], JSON.stringify(diffs));
    });
  }

  it('sd15: fused graphs on WebGPU agree with plain graphs on the CPU', async function () {
    const plain = graphsFor(TINY_SD15, false);
    const fused = graphsFor(TINY_SD15, true);
    let onGpu: Record<string, Float32Array>;
    try {
      onGpu = await outputsOf(TINY_SD15, fused, 'webgpu');
    } catch (e) {
      // CI installs Mesa's lavapipe (bookworm-backports) so this runs there; say why when it cannot.
      console.log(`      WebGPU unavailable here: ${(e as Error).message.split('\n')[0]}`);
      this.skip();
    }
    const diffs = relativeDiffs(await outputsOf(TINY_SD15, plain, 'cpu'), onGpu);
    assert.deepStrictEqual(Object.entries(diffs).filter(([, d]) => !(d <= 1e-3)), [], JSON.stringify(diffs));
  });
});
