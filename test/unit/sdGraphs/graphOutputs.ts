import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { fromFloat16, toFloat16 } from '../../../server/src/render/onnx/half';
import { PipelineComponent } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointGraphs, CheckpointGraphs } from '../../../server/src/render/sdGraphs/graphFiles';
import { createGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import { FloatType, FusedForms } from '../../../server/src/render/sdGraphs/net';
import { architectureOf, generateTinyPipeline, PipelineConfig } from '../../../server/src/render/testModel/generateModel';
import { folderTwinSource } from './folderTwinSource';

/** Running a tiny checkpoint's graphs on fixed inputs, for comparing one graph form with another. */

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function floatTensor(dtype: FloatType, data: Float32Array, dims: number[]): ort.Tensor {
  return dtype === 'float16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims);
}

/** The same inputs for every form: latents and context from a fixed sequence, a 6-token prompt, timestep 700. */
export function feeds(config: PipelineConfig, component: PipelineComponent, dtype: FloatType): Record<string, ort.Tensor> {
  const arch = architectureOf(config);
  if (component.startsWith('text_encoder')) {
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 7 ? 400 + 13 * i : 49407));
    return { input_ids: new ort.Tensor('int32', ids, [1, 77]) };
  }
  if (component === 'unet') {
    const f: Record<string, ort.Tensor> = {
      sample: floatTensor(dtype, seeded(4 * 8 * 8, 1), [1, 4, 8, 8]),
      timestep: floatTensor(dtype, Float32Array.of(700), [1]),
      encoder_hidden_states: floatTensor(dtype, seeded(77 * arch.unet.contextDim, 2), [1, 77, arch.unet.contextDim]),
    };
    if (config.base === 'sdxl') {
      const pooled = config.hiddenSize2 ?? 0;
      f.text_embeds = floatTensor(dtype, seeded(pooled, 3), [1, pooled]);
      f.time_ids = floatTensor(dtype, Float32Array.of(64, 64, 0, 0, 64, 64), [1, 6]);
    }
    return f;
  }
  return { latent_sample: floatTensor(dtype, seeded(4 * 4 * 4, 4), [1, 4, 4, 4]) };
}

/** Every output of every graph (`unet.out_sample`, ...) as fp32, run on `ep`. */
export async function outputsOf(config: PipelineConfig, graphs: CheckpointGraphs, ep: 'cpu' | 'webgpu', dtype: FloatType): Promise<Record<string, Float32Array>> {
  const sessions = await createGraphSessions(ort, graphs, { executionProviders: [ep], logSeverityLevel: 3 });
  const out: Record<string, Float32Array> = {};
  try {
    for (const [component, session] of Object.entries(sessions) as [PipelineComponent, ort.InferenceSession][]) {
      const result = await session.run(feeds(config, component, dtype));
      for (const [name, t] of Object.entries(result)) {
        if (t.type === 'float16') out[`${component}.${name}`] = fromFloat16(t.data as Uint16Array);
        else if (t.type === 'float32') out[`${component}.${name}`] = t.data as Float32Array;
      }
    }
  } finally {
    for (const s of Object.values(sessions)) await s?.release();
  }
  return out;
}

/** Per output: the largest absolute difference over the largest magnitude of `a` (at least 1e-3). */
export function relativeDiffs(a: Record<string, Float32Array>, b: Record<string, Float32Array>): Record<string, number> {
  const diffs: Record<string, number> = {};
  assert.deepStrictEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    assert.strictEqual(y.length, x.length, name);
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

/** Outputs whose difference is over `tolerance` (or NaN): the empty list when the forms agree. */
export function over(diffs: Record<string, number>, tolerance: number): [string, number][] {
  return Object.entries(diffs).filter(([, d]) => !(d <= tolerance));
}

/** A tiny generated pipeline under `root`, standing in for a checkpoint, and its graphs in one form. */
export function tinyCheckpointGraphs(root: string, config: PipelineConfig, dtype: FloatType, fused: boolean | FusedForms): CheckpointGraphs {
  const folder = path.join(root, config.base);
  if (!fs.existsSync(folder)) generateTinyPipeline(folder, config);
  const records = path.join(root, `${config.base}-records`);
  const generated = { folder, models: generateTinyPipeline(records, config).models };
  const source = folderTwinSource(generated);
  try {
    return checkpointGraphs({ checkpoint: path.join(folder, 'unet/model.onnx_data'), architecture: architectureOf(config), source, dtype, fused, cacheRoot: path.join(root, 'cache') });
  } finally {
    source.close();
  }
}
