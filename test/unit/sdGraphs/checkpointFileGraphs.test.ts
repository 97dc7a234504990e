import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { indexWeights, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { buildSdGraphs } from '../../../server/src/render/sdGraphs/pipelineGraphs';
import { PipelineComponent, SdArchitecture } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointGraphs } from '../../../server/src/render/sdGraphs/graphFiles';
import { createGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import {
  CheckpointDtype,
  TINY_SD1_ARCHITECTURE,
  TINY_SD2_ARCHITECTURE,
  TINY_SDXL_ARCHITECTURE,
  writeCheckpoint,
} from '../../../server/src/render/testModel/generateCheckpoint';

/**
 * A generated single-file checkpoint (LDM keys, as A1111 keeps them) read by render/checkpoint and turned into
 * graphs here: the graphs open in onnxruntime over the file's own bytes and compute the same thing whatever
 * dtype the file stores (fp16/bf16 within their rounding of the fp32 file's outputs).
 */

const CPU: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'extended', logSeverityLevel: 3 };

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function feeds(arch: SdArchitecture, component: PipelineComponent): Record<string, ort.Tensor> {
  if (component.startsWith('text_encoder')) {
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 5 ? 320 + 11 * i : 49407));
    return { input_ids: new ort.Tensor('int32', ids, [1, 77]) };
  }
  if (component === 'unet') {
    const u = arch.unet;
    const f: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', seeded(4 * 8 * 8, 1), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(321), [1]),
      encoder_hidden_states: new ort.Tensor('float32', seeded(77 * u.contextDim, 2), [1, 77, u.contextDim]),
    };
    if (u.admInChannels !== undefined) {
      const pooled = u.admInChannels - 6 * (u.additionTimeEmbedDim ?? 256);
      f.text_embeds = new ort.Tensor('float32', seeded(pooled, 3), [1, pooled]);
      f.time_ids = new ort.Tensor('float32', Float32Array.of(64, 64, 0, 0, 64, 64), [1, 6]);
    }
    return f;
  }
  return { latent_sample: new ort.Tensor('float32', seeded(4 * 4 * 4, 4), [1, 4, 4, 4]) };
}

describe('Graphs of a single-file checkpoint', function () {
  this.timeout(180000);
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ckpt-graphs-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Every output of every graph of the checkpoint written in `dtype`. */
  async function run(arch: SdArchitecture, dtype: CheckpointDtype): Promise<{ outputs: Record<string, Float32Array>; checkpoint: string; graphs: ReturnType<typeof checkpointGraphs> }> {
    const checkpoint = path.join(root, `${arch.family}-${dtype}.safetensors`);
    writeCheckpoint(checkpoint, { architecture: arch, dtype, seed: 5, extras: true });
    const loaded = await loadCheckpoint(checkpoint);
    const graphs = checkpointGraphs({ checkpoint, architecture: loaded.architecture, source: loaded.weights, dtype: 'float32', cacheRoot: path.join(root, 'cache') });
    const sessions = await createGraphSessions(ort, graphs, CPU);
    const outputs: Record<string, Float32Array> = {};
    try {
      for (const [component, session] of Object.entries(sessions) as [PipelineComponent, ort.InferenceSession][]) {
        const result = await session.run(feeds(arch, component));
        for (const [name, t] of Object.entries(result)) outputs[`${component}.${name}`] = t.data as Float32Array;
      }
    } finally {
      for (const s of Object.values(sessions)) await s?.release();
    }
    return { outputs, checkpoint, graphs };
  }

  for (const arch of [TINY_SD1_ARCHITECTURE, TINY_SD2_ARCHITECTURE, TINY_SDXL_ARCHITECTURE]) {
    it(`${arch.family}: fp16 and bf16 files compute the fp32 file's outputs within their rounding`, async () => {
      const f32 = await run(arch, 'F32');
      const expected = ['text_encoder.last_hidden_state', 'unet.out_sample', 'vae_decoder.sample', ...(arch.family === 'sdxl' ? ['text_encoder_2.text_embeds'] : [])];
      for (const name of expected) assert.ok(f32.outputs[name], `${name} computed`);
      assert.strictEqual(f32.outputs['unet.out_sample'].length, 4 * 8 * 8);
      assert.strictEqual(f32.outputs['vae_decoder.sample'].length, 3 * 32 * 32);
      for (const values of Object.values(f32.outputs)) assert.ok(values.every(Number.isFinite));

      // Weights stay in the checkpoint: the cached graphs hold none, and point at the file itself.
      const unet = readOnnxModel(f32.graphs.graphs.unet!.model);
      const external = unet.graph.initializers.filter((i) => i.location?.kind === 'external');
      assert.ok(external.length > 40);
      assert.ok(external.every((i) => i.location?.kind === 'external' && fs.realpathSync(i.location.file) === fs.realpathSync(f32.checkpoint)));
      assert.ok(f32.graphs.bytesWritten < fs.statSync(f32.checkpoint).size, `${f32.graphs.bytesWritten} bytes of graphs for a ${fs.statSync(f32.checkpoint).size}-byte checkpoint`);

      for (const [dtype, tolerance] of [['F16', 5e-3], ['BF16', 4e-2]] as const) {
        const other = await run(arch, dtype);
        for (const [name, values] of Object.entries(f32.outputs)) {
          const theirs = other.outputs[name];
          let scale = 0;
          let diff = 0;
          for (let i = 0; i < values.length; i++) {
            scale = Math.max(scale, Math.abs(values[i]));
            diff = Math.max(diff, Math.abs(values[i] - theirs[i]));
          }
          assert.ok(diff <= tolerance * Math.max(scale, 1e-3), `${dtype} ${name}: differs by ${diff} at scale ${scale}`);
        }
      }
    });
  }

  it('the LoRA index finds every Linear and Conv of an fp16 checkpoint\'s graphs, in the checkpoint, behind their Casts', async () => {
    const arch = TINY_SDXL_ARCHITECTURE;
    const { checkpoint, graphs } = await run(arch, 'F16');
    const loaded = await loadCheckpoint(checkpoint);
    const built = buildSdGraphs(loaded.architecture, { dtype: 'float32', weights: { kind: 'source', source: loaded.weights } });
    const layout = { MatMul: 'in_out', Gemm: 'out_in', Conv: 'conv' } as const;
    for (const component of ['text_encoder', 'text_encoder_2', 'unet'] as const) {
      const index = indexWeights(readOnnxModel(graphs.graphs[component]!.model));
      assert.deepStrictEqual(index.unattributed, [], component);
      assert.deepStrictEqual(
        index.weights.map((w) => [w.module, w.initializer, w.op, w.layout, w.dims.join('x')]),
        built[component]!.linears.map((l) => [l.module, l.initializer, l.op, layout[l.op], l.dims.join('x')]),
        component,
      );
      for (const w of index.weights) {
        assert.strictEqual(w.dtype, 'float16', w.module);
        assert.ok(w.via.includes('Cast'), `${w.module} via ${w.via}`);
        // OpenCLIP stores text_projection transposed: the checkpoint reader hands it over rebuilt, inline.
        if (w.module === 'text_projection') assert.strictEqual(w.location.kind, 'inline');
        else assert.ok(w.location.kind === 'external' && fs.realpathSync(w.location.file) === fs.realpathSync(checkpoint), w.module);
      }
    }
    assert.ok(indexWeights(readOnnxModel(graphs.graphs.unet!.model)).byModule.has('down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k'));
  });
});
