import * as fs from 'fs';
import * as path from 'path';
import { readOnnxModel, TensorLocation } from '../../../server/src/render/onnx/onnxIndex';
import { fromFloat16, toFloat16 } from '../../../server/src/render/onnx/half';
import { PipelineComponent, WeightDtype, WeightRef, WeightSource } from '../../../server/src/render/sdGraphs/architecture';
import { Net } from '../../../server/src/render/sdGraphs/net';
import { buildVaeDecoder } from '../../../server/src/render/sdGraphs/vaeDecoder';
import { architectureOf, GeneratedPipeline, generateTinyPipeline, PipelineConfig } from '../../../server/src/render/testModel/generateModel';

/**
 * A WeightSource over a generated test pipeline's folder, standing in for a checkpoint: each diffusers
 * parameter is found in the folder's graphs and handed out where its bytes already are (the unet's
 * model.onnx_data, the raw_data inside a model.onnx), so graphs built from it read the same bytes at
 * their own offsets. Weights whose layout differs (torch.onnx's transposed `onnx::MatMul_N`) and weights
 * asked in another dtype are written once into `twin-<dtype>.bin` beside the graph, as a checkpoint would hold them.
 *
 * `round` stores fp32 values rounded to fp16/bf16 (still fp32): the graph over it must compute
 * exactly what a graph over `storeAs` fp16/bf16 bytes computes after its Cast.
 */
export interface TwinOptions {
  storeAs?: WeightDtype;
  round?: 'float16' | 'bfloat16';
}

function toBfloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // round to nearest even
  }
  return out;
}

function widen(bits: Uint16Array, from: 'float16' | 'bfloat16'): Float32Array {
  if (from === 'float16') return fromFloat16(bits);
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

interface Found {
  values: () => Float32Array;
  /** Where the fp32 bytes already are, in PyTorch layout; absent when they had to be rearranged. */
  at?: { file: string; offset: number; length: number };
  shape: number[];
}

export function folderTwinSource(generated: GeneratedPipeline, options: TwinOptions = {}): WeightSource & { close(): void } {
  const storeAs = options.storeAs ?? 'float32';
  const perComponent = new Map<string, { find: (name: string) => Found; dir: string; out?: number; written: number }>();
  for (const [component, generatedModel] of Object.entries(generated.models)) {
    const modelFile = path.join(generated.folder, generatedModel.file);
    const model = readOnnxModel(modelFile);
    const inits = new Map(model.graph.initializers.map((i) => [i.name, i]));
    const bytesAt = (loc: TensorLocation) => {
      const file = loc.kind === 'inline' ? modelFile : loc.file;
      const buf = Buffer.alloc(loc.length);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, buf, 0, loc.length, loc.offset);
      fs.closeSync(fd);
      return new Float32Array(buf.buffer, buf.byteOffset, loc.length / 4);
    };
    const whereAt = (loc: TensorLocation) => ({ file: loc.kind === 'inline' ? modelFile : loc.file, offset: loc.offset, length: loc.length });
    const matmuls = new Map(generatedModel.linears.filter((l) => l.op === 'MatMul').map((l) => [l.module, l]));
    const nodes = new Map<string, string[]>();
    for (const n of model.graph.nodes) if (!nodes.has(Net.modulePath(n.name))) nodes.set(Net.modulePath(n.name), n.inputs);
    const find = (name: string): Found => {
      const module = name.slice(0, name.lastIndexOf('.'));
      const record = name.endsWith('.weight') ? matmuls.get(module) : undefined;
      if (record) {
        const init = inits.get(record.initializer)!;
        const [inF, outF] = init.dims;
        return {
          shape: [outF, inF],
          values: () => {
            const w = bytesAt(init.location!);
            const t = new Float32Array(w.length);
            for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) t[o * inF + i] = w[i * outF + o];
            return t;
          },
        };
      }
      const direct = inits.get(name);
      if (direct?.location) return { shape: direct.dims, values: () => bytesAt(direct.location!), at: whereAt(direct.location) };
      // GroupNorm's affine: torch folds it into the Mul/Add after the norm (`onnx::Mul_N` [C, 1, 1]).
      const op = name.endsWith('.weight') ? 'Mul' : 'Add';
      const inputs = nodes.get(`${module}.${op}`);
      const affine = inputs && inits.get(inputs[1]);
      if (affine?.location) return { shape: [affine.dims[0]], values: () => bytesAt(affine.location!), at: whereAt(affine.location) };
      throw new Error(`${component}: no weight ${name} in ${modelFile}`);
    };
    perComponent.set(component, { find, dir: path.dirname(modelFile), written: 0 });
  }
  return {
    close() {
      for (const c of perComponent.values()) if (c.out !== undefined) fs.closeSync(c.out);
    },
    weight(component: PipelineComponent, name: string): WeightRef {
      const c = perComponent.get(component);
      if (!c) throw new Error(`no ${component} in ${generated.folder}`);
      const found = c.find(name);
      if (found.at && storeAs === 'float32' && !options.round) return { dtype: 'float32', shape: found.shape, data: found.at };
      let values = found.values();
      if (options.round) values = widen(options.round === 'float16' ? toFloat16(values) : toBfloat16(values), options.round);
      const stored = storeAs === 'float32' ? values : storeAs === 'float16' ? toFloat16(values) : toBfloat16(values);
      const bytes = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
      const file = path.join(c.dir, `twin-${storeAs}.bin`);
      if (c.out === undefined) c.out = fs.openSync(file, 'w');
      fs.writeSync(c.out, bytes, 0, bytes.length, c.written);
      const ref: WeightRef = { dtype: storeAs, shape: found.shape, data: { file, offset: c.written, length: bytes.length } };
      c.written += bytes.length;
      return ref;
    },
  };
}

/**
 * The tiny pipeline with its VAE decoder as a checkpoint's is built (resnet GroupNorm eps 1e-6, as every
 * released VAE; the test pipelines keep the 1e-5 they were first made with). Same seed, same weights.
 */
export function generateTwinReference(folder: string, config: PipelineConfig): GeneratedPipeline {
  const generated = generateTinyPipeline(folder, config);
  const vae = buildVaeDecoder(architectureOf(config).vaeDecoder, { dtype: 'float32', weights: { kind: 'random', seed: config.seed + 200 } });
  vae.model.write(path.join(folder, generated.models.vae_decoder.file));
  return generated;
}
