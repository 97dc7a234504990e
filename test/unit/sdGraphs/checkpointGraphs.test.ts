import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { checkpointGraphs, CheckpointGraphs } from '../../../server/src/render/sdGraphs/graphFiles';
import { createGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import { PipelineComponent } from '../../../server/src/render/sdGraphs/architecture';
import { architectureOf, generateTinyPipeline, GeneratedPipeline, PipelineConfig, TINY_SD15, TINY_SD2, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { folderTwinSource, generateTwinReference, TwinOptions } from './folderTwinSource';

/**
 * Graphs built from a weight source (the checkpoint path: weights as external data at their own
 * offsets, Transpose before MatMul, Cast from fp16/bf16) compute what the generated folder computes.
 */

const CPU: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'extended', logSeverityLevel: 3 };

type Feeds = Record<string, ort.Tensor>;

function seeded(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Inputs for each graph of a tiny pipeline (ids end in EOS, whose id is the largest as in CLIP). */
function feedsFor(config: PipelineConfig, component: string, contextDim: number): Feeds {
  if (component.startsWith('text_encoder')) {
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 6 ? 320 + i * 7 : 49407));
    return { input_ids: new ort.Tensor('int32', ids, [1, 77]) };
  }
  if (component === 'unet') {
    const feeds: Feeds = {
      sample: new ort.Tensor('float32', seeded(4 * 8 * 8, 1), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(501), [1]),
      encoder_hidden_states: new ort.Tensor('float32', seeded(77 * contextDim, 2), [1, 77, contextDim]),
    };
    if (config.base === 'sdxl') {
      feeds.text_embeds = new ort.Tensor('float32', seeded(config.hiddenSize2 ?? 0, 3), [1, config.hiddenSize2 ?? 0]);
      feeds.time_ids = new ort.Tensor('float32', Float32Array.of(64, 64, 0, 0, 64, 64), [1, 6]);
    }
    return feeds;
  }
  return { latent_sample: new ort.Tensor('float32', seeded(4 * 4 * 4, 4), [1, 4, 4, 4]) };
}

async function outputs(session: ort.InferenceSession, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const result = await session.run(feeds);
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.strictEqual(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('Graphs from a weight source (checkpoint path)', function () {
  this.timeout(120000);
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  function graphsFrom(generated: GeneratedPipeline, config: PipelineConfig, twin: TwinOptions, cacheRoot: string): CheckpointGraphs {
    const source = folderTwinSource(generated, twin);
    try {
      return checkpointGraphs({
        checkpoint: path.join(generated.folder, 'unet/model.onnx_data'),
        otherFiles: [path.join(generated.folder, 'text_encoder/model.onnx')],
        architecture: architectureOf(config),
        source,
        dtype: 'float32',
        cacheRoot,
      });
    } finally {
      source.close();
    }
  }

  /** Every graph's outputs from the folder and from the graphs over `twin`, side by side. */
  async function compare(config: PipelineConfig, twin: TwinOptions, reference: TwinOptions | 'folder') {
    const folder = tmp('sd-twin-');
    const generated = generateTwinReference(folder, config);
    const built = graphsFrom(generated, config, twin, tmp('sd-graph-cache-'));
    const sessions = await createGraphSessions(ort, built, CPU);
    let refSessions: Partial<Record<PipelineComponent, ort.InferenceSession>>;
    if (reference === 'folder') {
      refSessions = {};
      for (const [key, model] of Object.entries(generated.models)) refSessions[key as PipelineComponent] = await ort.InferenceSession.create(path.join(folder, model.file), CPU);
    } else {
      const refFolder = tmp('sd-twin-ref-');
      refSessions = await createGraphSessions(ort, graphsFrom(generateTinyPipeline(refFolder, config), config, reference, tmp('sd-graph-cache-')), CPU);
    }
    const contextDim = architectureOf(config).unet.contextDim;
    const diffs: Record<string, number> = {};
    try {
      for (const component of Object.keys(generated.models) as PipelineComponent[]) {
        const feeds = feedsFor(config, component, contextDim);
        const ours = await outputs(sessions[component]!, feeds);
        const theirs = await outputs(refSessions[component]!, feeds);
        for (const [name, values] of Object.entries(theirs)) {
          assert.ok(ours[name], `${component} outputs ${name}`);
          diffs[`${component}.${name}`] = maxAbsDiff(ours[name], values);
        }
      }
    } finally {
      for (const s of [...Object.values(sessions), ...Object.values(refSessions)]) await s?.release();
    }
    return diffs;
  }

  for (const [label, config] of [['SD1', TINY_SD15], ['SD2 (linear proj, head channels)', TINY_SD2], ['SDXL (two encoders, label_emb)', TINY_SDXL]] as const) {
    it(`${label}: fp32 weights read in place give the folder's outputs`, async () => {
      const diffs = await compare(config, {}, 'folder');
      // The same bytes reach the same ops: a Transpose folded at load gives the MatMul the folder's weight.
      assert.deepStrictEqual(Object.entries(diffs).filter(([, d]) => d !== 0), []);
      assert.ok(Object.keys(diffs).includes('unet.out_sample') && Object.keys(diffs).includes('vae_decoder.sample'));
    });
  }

  it('fp16-stored weights through a Cast compute exactly what their fp32 values compute', async () => {
    const diffs = await compare(TINY_SD15, { storeAs: 'float16' }, { round: 'float16' });
    assert.deepStrictEqual(Object.values(diffs).filter((d) => d !== 0), [], JSON.stringify(diffs));
  });

  it('bf16-stored weights through a Cast compute exactly what their fp32 values compute', async () => {
    const diffs = await compare(TINY_SDXL, { storeAs: 'bfloat16' }, { round: 'bfloat16' });
    assert.deepStrictEqual(Object.values(diffs).filter((d) => d !== 0), [], JSON.stringify(diffs));
  });

  it('caches graphs only: every weight stays external, a second load writes nothing, an edited checkpoint gets a new entry', () => {
    const folder = tmp('sd-twin-');
    const generated = generateTinyPipeline(folder, TINY_SD15);
    const cacheRoot = tmp('sd-graph-cache-');
    const first = graphsFrom(generated, TINY_SD15, {}, cacheRoot);
    assert.strictEqual(first.cached, false);
    assert.deepStrictEqual(Object.keys(first.graphs).sort(), ['text_encoder', 'unet', 'vae_decoder']);
    // Clip skip reads the layers' hidden states through the final norm (normed_hidden_states.N): an SD1 text encoder outputs them all.
    assert.deepStrictEqual(first.graphs.text_encoder!.outputs, [
      'last_hidden_state', 'pooler_output', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2', 'normed_hidden_states.0', 'normed_hidden_states.1',
    ]);
    const unet = readOnnxModel(first.graphs.unet!.model);
    const weights = unet.graph.initializers.filter((i) => !i.name.startsWith('onnx::') && i.name !== 'text_model.embeddings.position_ids');
    assert.ok(weights.length > 50, `${weights.length} weights`);
    assert.deepStrictEqual(weights.filter((w) => w.location?.kind !== 'external').map((w) => w.name), []);
    // The symlink beside the graph lets the LoRA index read the weights it points at.
    const conv = weights.find((w) => w.name === 'conv_in.weight')!;
    assert.ok(conv.location?.kind === 'external' && fs.realpathSync(conv.location.file) === fs.realpathSync(path.join(folder, 'unet/model.onnx_data')));
    assert.strictEqual(first.graphs.unet!.dataFolder, fs.realpathSync(path.join(folder, 'unet')));
    assert.ok(first.bytesWritten > 0);

    const second = graphsFrom(generated, TINY_SD15, {}, cacheRoot);
    assert.deepStrictEqual([second.cached, second.bytesWritten, second.folder], [true, 0, first.folder]);
    // fp16 graphs of the same file (a GPU) are an entry of their own; the fp32 one stays.
    const source = folderTwinSource(generated);
    const half = checkpointGraphs({ checkpoint: path.join(folder, 'unet/model.onnx_data'), otherFiles: [path.join(folder, 'text_encoder/model.onnx')], architecture: architectureOf(TINY_SD15), source, dtype: 'float16', cacheRoot });
    source.close();
    assert.strictEqual(half.cached, false);
    assert.deepStrictEqual(fs.readdirSync(cacheRoot).sort(), [path.basename(first.folder), path.basename(half.folder)].sort());

    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(folder, 'unet/model.onnx_data'), later, later);
    const third = graphsFrom(generated, TINY_SD15, {}, cacheRoot);
    assert.strictEqual(third.cached, false);
    assert.notStrictEqual(third.folder, first.folder);
    assert.deepStrictEqual(fs.readdirSync(cacheRoot), [path.basename(third.folder)]);
  });

  it('a weight of the wrong shape names the component, the weight and both shapes', () => {
    const folder = tmp('sd-twin-');
    const generated = generateTinyPipeline(folder, TINY_SD15);
    const twin = folderTwinSource(generated);
    const lying = {
      weight: (component: PipelineComponent, name: string) => {
        const ref = twin.weight(component, name);
        return name === 'conv_in.weight' ? { ...ref, shape: [16, 4, 1, 9] } : ref;
      },
    };
    assert.throws(
      () => checkpointGraphs({ checkpoint: path.join(folder, 'unet/model.onnx_data'), architecture: architectureOf(TINY_SD15), source: lying, dtype: 'float32', cacheRoot: tmp('sd-graph-cache-') }),
      { message: 'unet weight conv_in.weight has shape [16,4,1,9] where the architecture needs [16,4,3,3]' },
    );
    twin.close();
  });
});
