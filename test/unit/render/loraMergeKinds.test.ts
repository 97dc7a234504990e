import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { fromFloat16, toFloat16 } from '../../../server/src/render/onnx/half';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { DeltaCache } from '../../../server/src/render/merge/deltaCache';
import { isLoraKeyMapError, LoraModule, mapLoraKeys } from '../../../server/src/render/lora/loraKeys';
import { LoraTensor } from '../../../server/src/render/lora/loraTensors';
import { computeAll, deltaKey, MergedGraph, mergeIntoGraph, torchShape } from '../../../server/src/render/merge/merge';
import type { LoraInput } from '../../../server/src/render/lora/prepare';
import { deltaWeight, isLoraMathError, lowRankFactors } from '../../../server/src/render/lora/loraMath';
import { MergeKernel, mergeDeviceFor } from '../../../server/src/render/merge/mergeKernel';
import { sessionModel } from '../../../server/src/render/merge/mergedModelFiles';
import { indexWeights, readOnnxModel, WeightEntry, WeightIndex } from '../../../server/src/render/onnx/onnxIndex';
import { buildPipelineGraphs, generateTinyPipeline, PipelineConfig, SD15_SIZED, SDXL_SIZED, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { modelFromBuilder } from './builderModel';
import { FIXTURES } from '../fixtures';
import { random, readLoraModules, SafetensorsDType, storedAs, writeSafetensors } from './loraFiles';

/**
 * Every LoRA kind and file dtype merged into the tiny generated graphs, each checked against an
 * independent fp64 computation of base + ΔW written here from the LyCORIS/A1111 formulas.
 */
const TO_K = 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k'; // torch [16, 32], MatMul [32, 16]
const FF_2 = 'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2'; // torch [16, 64]
const KOHYA = (module: string) => `lora_unet_${module.replace(/\./g, '_')}`;

type Tensors = Record<string, { dims: number[]; data: Float32Array }>;

/** A weight as stored (fp16 decoded), straight from the model's files. */
function storedWeight(entry: WeightEntry, modelFile: string): Float32Array {
  const loc = entry.location;
  const file = loc.kind === 'external' ? loc.file : modelFile;
  const bytes = fs.readFileSync(file).subarray(loc.offset, loc.offset + loc.length);
  const copy = new Uint8Array(bytes);
  return entry.dtype === 'float16' ? fromFloat16(new Uint16Array(copy.buffer)) : new Float32Array(copy.buffer);
}

/** One unit in the last place of the fp16 value nearest to x. */
function halfUlp(x: number): number {
  const a = Math.abs(x);
  return a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
}

describe('LoRA merge: every kind and file dtype against independent computations', function () {
  this.timeout(60000);
  let root: string;
  let fp32: string;
  let fp16: string;
  const kernel = new MergeKernel(ort);

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-merge-kinds-'));
    fp32 = path.join(root, 'fp32');
    fp16 = path.join(root, 'fp16');
    generateTinyPipeline(fp32, TINY_SD15);
    generateTinyPipeline(fp16, { ...TINY_SD15, dtype: 'fp16' });
  });
  after(async () => {
    await kernel.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /**
   * Merges `tensors` (written as `dtype`) into `pipeline`'s UNet and compares every patched value of
   * `module` with base + Δ(o, i) (torch indices, fp64): within `tolerance` in fp32, within one fp16
   * unit in the last place in fp16 (the sum is rounded once).
   */
  async function mergeAndCheck(
    pipeline: string,
    tensors: Tensors,
    options: { dtype?: SafetensorsDType; multiplier: number; module?: string; tolerance?: number },
    delta: (o: number, i: number, base: (o: number, i: number) => number) => number,
  ): Promise<MergedGraph> {
    const file = path.join(root, `lora-${Math.random().toString(36).slice(2)}.safetensors`);
    writeSafetensors(file, tensors, options.dtype);
    const unet = path.join(pipeline, 'unet/model.onnx');
    const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'l', modules: await readLoraModules(file), te: 1, unet: options.multiplier }], { kernel });
    assert.deepStrictEqual(merged.reports, [{ name: 'l', matched: 1, unmatched: [], mismatched: [] }]);
    const entry = indexWeights(readOnnxModel(unet)).byModule.get(options.module ?? TO_K)!;
    const patched = (await computeAll(merged)).get(entry.initializer);
    assert.ok(patched, `${entry.initializer} was not patched`);
    const got = entry.dtype === 'float16' ? fromFloat16(new Uint16Array(patched.buffer, patched.byteOffset, patched.length / 2)) : new Float32Array(patched.buffer, patched.byteOffset, patched.length / 4);
    const stored = storedWeight(entry, unet);
    const [outs, ins] = entry.layout === 'in_out' ? [entry.dims[1], entry.dims[0]] : [entry.dims[0], entry.dims[1]];
    const at = (o: number, i: number) => (entry.layout === 'in_out' ? i * outs + o : o * ins + i);
    const base = (o: number, i: number) => stored[at(o, i)];
    let worst = 0;
    for (let o = 0; o < outs; o++) {
      for (let i = 0; i < ins; i++) {
        const expected = base(o, i) + delta(o, i, base);
        const error = Math.abs(got[at(o, i)] - expected);
        const allowed = entry.dtype === 'float16' ? halfUlp(expected) : (options.tolerance ?? 1e-6);
        worst = Math.max(worst, error / allowed);
      }
    }
    assert.ok(worst <= 1, `largest error is ${worst.toFixed(2)}× the tolerance`);
    return merged;
  }

  const loraTensors = (module: string, out: number, inputs: number, rank: number, seed: number): Tensors => ({
    [`${KOHYA(module)}.lora_down.weight`]: { dims: [rank, inputs], data: random(rank * inputs, seed) },
    [`${KOHYA(module)}.lora_up.weight`]: { dims: [out, rank], data: random(out * rank, seed + 1) },
    [`${KOHYA(module)}.alpha`]: { dims: [], data: Float32Array.of(rank / 2) },
  });
  const lowRank = (t: Tensors, module: string, dtype: SafetensorsDType, factor: number) => {
    const up = storedAs(dtype, t[`${KOHYA(module)}.lora_up.weight`].data);
    const down = storedAs(dtype, t[`${KOHYA(module)}.lora_down.weight`].data);
    const [out, rank] = t[`${KOHYA(module)}.lora_up.weight`].dims;
    const inputs = down.length / rank;
    void out;
    return (o: number, i: number) => {
      let v = 0;
      for (let r = 0; r < rank; r++) v += up[o * rank + r] * down[r * inputs + i];
      return factor * v;
    };
  };

  for (const [pipeline, dtype] of [
    ['fp32', 'F32'],
    ['fp16', 'F16'],
    ['fp16', 'BF16'],
    ['fp32', 'BF16'],
  ] as const) {
    it(`a ${dtype} kohya LoRA into the ${pipeline} UNet (MatMul stored transposed)`, async () => {
      const t = loraTensors(TO_K, 16, 32, 4, 31);
      // alpha/rank = 0.5, multiplier 0.9.
      await mergeAndCheck(pipeline === 'fp32' ? fp32 : fp16, t, { dtype, multiplier: 0.9 }, lowRank(t, TO_K, dtype, 0.45));
    });
  }

  /**
   * One kind of LoRA file for the Linear session tests: its tensors (factors ~±1, so the branch stands far
   * above fp16's rounding) and ΔW[o][i] at multiplier 1 computed independently (torch layout, out 16, in 32),
   * given the base weight W[o][i] (DoRA needs it).
   */
  interface LinearCase {
    label: string;
    dtype?: SafetensorsDType;
    tensors: Tensors;
    delta: (o: number, i: number, W: (o: number, i: number) => number) => number;
  }
  const k = KOHYA(TO_K);
  const scaled = (n: number, seed: number) => random(n, seed).map((v) => v * 10);
  const kohyaCase = (label: string, dtype: SafetensorsDType): LinearCase => {
    const up = scaled(16 * 4, 93);
    const down = scaled(4 * 32, 94);
    const [u, d] = [storedAs(dtype, up), storedAs(dtype, down)];
    return {
      label,
      dtype,
      tensors: { [`${k}.lora_up.weight`]: { dims: [16, 4], data: up }, [`${k}.lora_down.weight`]: { dims: [4, 32], data: down }, [`${k}.alpha`]: { dims: [], data: Float32Array.of(2) } },
      delta: (o, i) => 0.5 * [0, 1, 2, 3].reduce((sum, r) => sum + u[o * 4 + r] * d[r * 32 + i], 0),
    };
  };
  const LINEAR_CASES: LinearCase[] = [
    kohyaCase('kohya LoRA with alpha and metadata (F32)', 'F32'),
    kohyaCase('kohya LoRA stored F16', 'F16'),
    kohyaCase('kohya LoRA stored BF16', 'BF16'),
    (() => {
      const [A, B] = [scaled(2 * 32, 95), scaled(16 * 2, 96)];
      return {
        label: 'PEFT without alpha',
        tensors: { [`unet.${TO_K}.lora_A.weight`]: { dims: [2, 32], data: A }, [`unet.${TO_K}.lora_B.weight`]: { dims: [16, 2], data: B } },
        delta: (o, i) => B[o * 2] * A[i] + B[o * 2 + 1] * A[32 + i],
      };
    })(),
    (() => {
      const [w1a, w1b, w2a, w2b] = [scaled(32, 97), scaled(64, 98), scaled(32, 99), scaled(64, 100)];
      return {
        label: 'LoHa',
        tensors: {
          [`${k}.hada_w1_a`]: { dims: [16, 2], data: w1a },
          [`${k}.hada_w1_b`]: { dims: [2, 32], data: w1b },
          [`${k}.hada_w2_a`]: { dims: [16, 2], data: w2a },
          [`${k}.hada_w2_b`]: { dims: [2, 32], data: w2b },
          [`${k}.alpha`]: { dims: [], data: Float32Array.of(1) },
        },
        delta: (o, i) => {
          const p = (a: Float32Array, b: Float32Array) => a[o * 2] * b[i] + a[o * 2 + 1] * b[32 + i];
          return 0.5 * p(w1a, w1b) * p(w2a, w2b);
        },
      };
    })(),
    (() => {
      const [w1, w2] = [scaled(16, 101), scaled(32, 102)];
      return {
        label: 'LoKr',
        tensors: { [`${k}.lokr_w1`]: { dims: [4, 4], data: w1 }, [`${k}.lokr_w2`]: { dims: [4, 8], data: w2 } },
        delta: (o, i) => w1[Math.floor(o / 4) * 4 + Math.floor(i / 8)] * w2[(o % 4) * 8 + (i % 8)],
      };
    })(),
    (() => {
      const diff = scaled(16 * 32, 103);
      return { label: 'full diff', tensors: { [`${k}.diff`]: { dims: [16, 32], data: diff } }, delta: (o, i) => diff[o * 32 + i] };
    })(),
    (() => {
      const lora = kohyaCase('', 'F32');
      const magnitude = Float32Array.from({ length: 32 }, (_, i) => 1 + i / 8);
      return {
        label: 'DoRA',
        tensors: { ...lora.tensors, [`${k}.dora_scale`]: { dims: [1, 32], data: magnitude } },
        delta: (o, i, W) => {
          let norm = 0;
          for (let q = 0; q < 16; q++) norm += (W(q, i) + lora.delta(q, i, W)) ** 2;
          return (magnitude[i] * (W(o, i) + lora.delta(o, i, W))) / Math.sqrt(norm) - W(o, i);
        },
      };
    })(),
  ];

  async function linearModel(dtype: 'float32' | 'float16'): Promise<{ modelFile: string; W: (o: number, i: number) => number }> {
    // One torch.onnx-style Linear: MatMul(x, onnx::MatMul_1 [in 32, out 16]) under to_k's scope.
    const builder = new ModelBuilder(17);
    const g = builder.graph;
    const weight = random(32 * 16, 91).map((v) => v * 5);
    g.input('x', dtype, [4, 32]);
    g.initializer('onnx::MatMul_1', dtype === 'float16' ? toFloat16(weight) : weight, [32, 16]);
    g.node('MatMul', ['x', 'onnx::MatMul_1'], ['y'], {}, `/${TO_K.replace(/\./g, '/')}/MatMul`);
    g.output('y', dtype, [4, 16]);
    const folder = path.join(root, `linear-${dtype}`);
    fs.mkdirSync(folder, { recursive: true });
    const modelFile = path.join(folder, 'model.onnx');
    builder.write(modelFile, { externalDataFile: 'model.onnx_data' });
    const stored = dtype === 'float16' ? fromFloat16(toFloat16(weight)) : weight;
    return { modelFile, W: (o, i) => stored[i * 16 + o] };
  }

  for (const dtype of ['float32', 'float16'] as const) {
    const cases = dtype === 'float32' ? LINEAR_CASES : LINEAR_CASES.filter((c) => c.label.startsWith('kohya') || c.label === 'LoHa');
    for (const c of cases) {
      it(`${c.label}, into a ${dtype} Linear: the merged session = the base session plus the branch x·ΔWᵀ computed separately`, async () => {
        const { modelFile, W } = await linearModel(dtype);
        const file = path.join(root, `linear-${dtype}-${c.label.replace(/\W+/g, '_')}.safetensors`);
        writeSafetensors(file, c.tensors, c.dtype);
        const merged = await mergeIntoGraph(modelFile, 'unet', [{ name: 'l', modules: await readLoraModules(file), te: 1, unet: 0.8 }], { kernel });
        assert.deepStrictEqual(merged.reports, [{ name: 'l', matched: 1, unmatched: [], mismatched: [] }]);
        const model = await sessionModel(merged);
        const mergedSession = await ort.InferenceSession.create(model.bytes, { extra: { session: { model_external_initializers_file_folder_path: model.folder } } });
        model.dispose();
        const baseSession = await ort.InferenceSession.create(modelFile);
        const x = random(4 * 32, 95).map((v) => v * 10);
        const feed = { x: dtype === 'float16' ? new ort.Tensor('float16', toFloat16(x), [4, 32]) : new ort.Tensor('float32', x, [4, 32]) };
        const asFloat = (data: unknown) => (dtype === 'float16' ? fromFloat16(data as Uint16Array) : (data as Float32Array));
        const got = asFloat((await mergedSession.run(feed)).y.data);
        const base = asFloat((await baseSession.run(feed)).y.data);
        await mergedSession.release();
        await baseSession.release();
        // The branch in fp64 from the input as the graph sees it: 0.8 · x · ΔWᵀ.
        const xs = dtype === 'float16' ? fromFloat16(toFloat16(x)) : x;
        const dW = Array.from({ length: 16 * 32 }, (_, j) => c.delta(Math.floor(j / 32), j % 32, W));
        let worst = 0;
        let change = 0;
        for (let n = 0; n < 4; n++) {
          for (let o = 0; o < 16; o++) {
            let branch = 0;
            for (let i = 0; i < 32; i++) branch += xs[n * 32 + i] * dW[o * 32 + i];
            worst = Math.max(worst, Math.abs(got[n * 16 + o] - (base[n * 16 + o] + 0.8 * branch)) / Math.max(1, Math.abs(got[n * 16 + o])));
            change = Math.max(change, Math.abs(0.8 * branch));
          }
        }
        // fp32: 1e-4 relative to outputs of at least 1, the bound (measured ~1e-7). fp16: 2⁻¹⁰ relative, one
        // fp16 ulp of the output, from rounding the merged weights and both outputs.
        const tolerance = dtype === 'float32' ? 1e-4 : 2 ** -10;
        assert.ok(worst <= tolerance, `largest difference ${worst} relative (tolerance ${tolerance})`);
        assert.ok(change > 0.5, `the LoRA changes the output (by at most ${change})`);
      });
    }
  }

  for (const [dtype, where] of [
    ['float32', 'external'],
    ['float16', 'inline'],
  ] as const) {
    it(`a ${dtype} weight larger than the merge's 2 MiB blocks (kept ${where}): every value is base + ΔW, written to the file and into the model bytes alike`, async () => {
      // 1100 × 1024: 4.5 MB in fp32 (three blocks, the last a part one), 2.25 MB in fp16 (two).
      const [inputs, outputs] = [1100, 1024];
      const builder = new ModelBuilder(17);
      const g = builder.graph;
      const weight = random(inputs * outputs, 71).map((v) => v * 5);
      g.input('x', dtype, [1, inputs]);
      g.initializer('onnx::MatMul_1', dtype === 'float16' ? toFloat16(weight) : weight, [inputs, outputs]);
      g.node('MatMul', ['x', 'onnx::MatMul_1'], ['y'], {}, `/${TO_K.replace(/\./g, '/')}/MatMul`);
      g.output('y', dtype, [1, outputs]);
      const folder = path.join(root, `large-${dtype}`);
      fs.mkdirSync(folder, { recursive: true });
      const modelFile = path.join(folder, 'model.onnx');
      builder.write(modelFile, where === 'external' ? { externalDataFile: 'model.onnx_data' } : {});
      const entry = indexWeights(readOnnxModel(modelFile)).byModule.get(TO_K)!;
      assert.strictEqual(entry.location.kind, where);
      // Two LoRAs on the weight: both terms go into every block.
      const loras: LoraInput[] = [];
      const deltas: Array<(o: number, i: number) => number> = [];
      for (const [name, rank, multiplier, seed] of [['a', 4, 0.8, 73], ['b', 2, -0.5, 77]] as const) {
        const tensors = loraTensors(TO_K, outputs, inputs, rank, seed);
        const file = path.join(root, `large-${dtype}-${name}.safetensors`);
        writeSafetensors(file, tensors);
        loras.push({ name, modules: await readLoraModules(file), te: 1, unet: multiplier });
        deltas.push(lowRank(tensors, TO_K, 'F32', (multiplier * rank) / 2 / rank));
      }
      const merged = await mergeIntoGraph(modelFile, 'unet', loras, { kernel });
      const patched = (await computeAll(merged)).get(entry.initializer)!;
      assert.strictEqual(patched.length, entry.location.length);
      const got = dtype === 'float16' ? fromFloat16(new Uint16Array(patched.buffer, patched.byteOffset, patched.length / 2)) : new Float32Array(patched.buffer, patched.byteOffset, patched.length / 4);
      const stored = storedWeight(entry, modelFile);
      let worst = 0;
      for (let i = 0; i < inputs; i++) {
        for (let o = 0; o < outputs; o++) {
          const expected = stored[i * outputs + o] + deltas[0](o, i) + deltas[1](o, i);
          const allowed = dtype === 'float16' ? halfUlp(expected) : 1e-6 * Math.max(1, Math.abs(expected));
          worst = Math.max(worst, Math.abs(got[i * outputs + o] - expected) / allowed);
        }
      }
      assert.ok(worst <= 1, `largest error is ${worst.toFixed(2)}× the tolerance`);
      // The temporary file and the inline form place each block at its weight's offset: the sessions agree.
      const x = random(inputs, 79);
      const feed = { x: dtype === 'float16' ? new ort.Tensor('float16', toFloat16(x), [1, inputs]) : new ort.Tensor('float32', x, [1, inputs]) };
      const outputOf = async (placement: 'file' | 'inline') => {
        const model = await sessionModel(merged, { placement });
        try {
          const session = await ort.InferenceSession.create(model.bytes, { extra: { session: { model_external_initializers_file_folder_path: model.folder } } });
          const y = Array.from((await session.run(feed)).y.data as Float32Array | Uint16Array);
          await session.release();
          return y;
        } finally {
          model.dispose();
        }
      };
      const [fromFile, inline] = [await outputOf('file'), await outputOf('inline')];
      assert.deepStrictEqual(fromFile, inline);
      const base = await ort.InferenceSession.create(modelFile);
      assert.notDeepStrictEqual(fromFile, Array.from((await base.run(feed)).y.data as Float32Array | Uint16Array));
      await base.release();
    });
  }

  it("'auto' runs the products on a hardware provider or the CPU, never on WebGPU (it may be a software adapter)", async () => {
    // On Linux auto's order is CUDA, WebGPU, CPU; CI has lavapipe's WebGPU and no CUDA libraries.
    const auto = await MergeKernel.onDevice(ort, 'auto', 'linux');
    assert.ok(auto.device === 'cuda' || auto.device === 'cpu', auto.device);
    await auto.release();
  });

  it('a render on WebGPU runs the products on the CPU (faster on the H100 machine); every other named device runs them itself', () => {
    assert.deepStrictEqual(
      (['webgpu', 'cpu', 'cuda', 'dml', 'coreml', 'auto'] as const).map(mergeDeviceFor),
      ['cpu', 'cpu', 'cuda', 'dml', 'coreml', 'auto'],
    );
  });

  it('the products and fp16 sums on a WebGPU kernel agree with the CPU, fp32 and fp16', async function () {
    let gpu: MergeKernel;
    try {
      gpu = await MergeKernel.onDevice(ort, 'webgpu');
    } catch (e) {
      // CI installs Mesa's lavapipe (bookworm-backports) so this runs there; say why when it cannot.
      console.log(`      skipped: no WebGPU adapter here (${(e as Error).message.slice(0, 160)})`);
      this.skip();
    }
    try {
      assert.strictEqual(gpu!.device, 'webgpu');
      const file = path.join(root, 'gpu.safetensors');
      writeSafetensors(file, { ...loraTensors(TO_K, 16, 32, 4, 101), ...loraTensors(FF_2, 16, 64, 8, 103) });
      const modules = await readLoraModules(file);
      for (const pipeline of [fp32, fp16]) {
        const unet = path.join(pipeline, 'unet/model.onnx');
        const merge = async (k: MergeKernel) => computeAll(await mergeIntoGraph(unet, 'unet', [{ name: 'g', modules, te: 1, unet: 0.7 }], { kernel: k }));
        const [onCpu, onGpu] = [await merge(kernel), await merge(gpu!)];
        assert.deepStrictEqual([...onGpu.keys()], [...onCpu.keys()]);
        for (const [name, bytes] of onCpu) {
          const decode = (b: Uint8Array) =>
            pipeline === fp16 ? fromFloat16(new Uint16Array(b.slice().buffer)) : new Float32Array(b.slice().buffer);
          const [c, g] = [decode(bytes), decode(onGpu.get(name)!)];
          let worst = 0;
          for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i] - g[i]) / (pipeline === fp16 ? halfUlp(c[i]) : 1e-6));
          // fp32: within 1e-6 (different summation order); fp16: at most one ulp apart (rounding of a sum that differs in its last fp32 bits).
          assert.ok(worst <= 1, `${name}: ${worst.toFixed(2)}× the tolerance`);
        }
      }
    } finally {
      await gpu!.release();
    }
  });

  it('LoHa: (w1a·w1b) ⊙ (w2a·w2b) · alpha/rank, into fp32 and fp16', async () => {
    const r = 2;
    const k = KOHYA(TO_K);
    const t: Tensors = {
      [`${k}.hada_w1_a`]: { dims: [16, r], data: random(16 * r, 41) },
      [`${k}.hada_w1_b`]: { dims: [r, 32], data: random(r * 32, 42) },
      [`${k}.hada_w2_a`]: { dims: [16, r], data: random(16 * r, 43) },
      [`${k}.hada_w2_b`]: { dims: [r, 32], data: random(r * 32, 44) },
      [`${k}.alpha`]: { dims: [], data: Float32Array.of(1) },
    };
    const expected = (o: number, i: number) => {
      let p1 = 0;
      let p2 = 0;
      for (let x = 0; x < r; x++) {
        p1 += t[`${k}.hada_w1_a`].data[o * r + x] * t[`${k}.hada_w1_b`].data[x * 32 + i];
        p2 += t[`${k}.hada_w2_a`].data[o * r + x] * t[`${k}.hada_w2_b`].data[x * 32 + i];
      }
      return 0.7 * 0.5 * p1 * p2;
    };
    for (const pipeline of [fp32, fp16]) await mergeAndCheck(pipeline, t, { multiplier: 0.7 }, expected);
  });

  it('DoRA: m · (W + sΔ) / ‖W + sΔ‖ per input column, times the multiplier, from the base weight', async () => {
    const t = loraTensors(FF_2, 16, 64, 2, 51);
    const magnitude = Float32Array.from({ length: 64 }, (_, i) => 0.5 + i / 64);
    t[`${KOHYA(FF_2)}.dora_scale`] = { dims: [1, 64], data: magnitude };
    const scaled = lowRank(t, FF_2, 'F32', 0.5); // alpha/rank = 1/2
    for (const pipeline of [fp32, fp16]) {
      await mergeAndCheck(pipeline, t, { multiplier: 0.6, module: FF_2, tolerance: 2e-6 }, (o, i, base) => {
        let norm = 0;
        for (let q = 0; q < 16; q++) norm += (base(q, i) + scaled(q, i)) ** 2;
        const merged = ((base(o, i) + scaled(o, i)) * magnitude[i]) / Math.sqrt(norm);
        return 0.6 * (merged - base(o, i));
      });
    }
  });

  it('two LoRAs and a LoKr on one weight are summed before the single rounding; weight 0 patches nothing', async () => {
    const unet = path.join(fp16, 'unet/model.onnx');
    const a = loraTensors(TO_K, 16, 32, 2, 61);
    const b = loraTensors(TO_K, 16, 32, 3, 63);
    const k = KOHYA(TO_K);
    const w1 = random(16, 65);
    const w2 = random(32, 66);
    const lokr: Tensors = { [`${k}.lokr_w1`]: { dims: [4, 4], data: w1 }, [`${k}.lokr_w2`]: { dims: [4, 8], data: w2 } };
    const inputs: LoraInput[] = [];
    for (const [name, tensors, weight] of [
      ['a', a, 0.5],
      ['b', b, -1],
      ['lokr', lokr, 0.25],
      ['off', loraTensors(FF_2, 16, 64, 2, 67), 0],
    ] as const) {
      const file = path.join(root, `${name}.safetensors`);
      writeSafetensors(file, tensors);
      inputs.push({ name, modules: await readLoraModules(file), te: 1, unet: weight });
    }
    const merged = await mergeIntoGraph(unet, 'unet', inputs, { kernel });
    assert.deepStrictEqual(
      merged.reports.map((r) => [r.name, r.matched]),
      [['a', 1], ['b', 1], ['lokr', 1], ['off', 1]],
    );
    const index = indexWeights(readOnnxModel(unet));
    const entry = index.byModule.get(TO_K)!;
    // The weight-0 LoRA is reported as matched but leaves ff.net.2 as it was.
    assert.deepStrictEqual(merged.patches.map((p) => p.initializer), [entry.initializer]);
    const got = fromFloat16(new Uint16Array((await computeAll(merged)).get(entry.initializer)!.slice().buffer));
    const stored = storedWeight(entry, unet);
    // Weight × alpha/rank: 0.5 × 1/2 and −1 × 1.5/3; LoKr without alpha has scale 1.
    const da = lowRank(a, TO_K, 'F32', 0.5 * 0.5);
    const db = lowRank(b, TO_K, 'F32', -1 * 0.5);
    let worst = 0;
    for (let o = 0; o < 16; o++) {
      for (let i = 0; i < 32; i++) {
        const kron = w1[Math.floor(o / 4) * 4 + Math.floor(i / 8)] * w2[(o % 4) * 8 + (i % 8)];
        const expected = stored[i * 16 + o] + da(o, i) + db(o, i) + 0.25 * kron;
        worst = Math.max(worst, Math.abs(got[i * 16 + o] - expected) / halfUlp(expected));
      }
    }
    assert.ok(worst <= 1, `largest error is ${worst.toFixed(2)} fp16 ulps`);
  });

  it('a weight change re-merges from cached deltas: the same result as a fresh merge, nothing recomputed', async () => {
    const unet = path.join(fp32, 'unet/model.onnx');
    const k = KOHYA(TO_K);
    const file = path.join(root, 'lokr-cache.safetensors');
    writeSafetensors(file, { [`${k}.lokr_w1`]: { dims: [4, 4], data: random(16, 71) }, [`${k}.lokr_w2`]: { dims: [4, 8], data: random(32, 72) } });
    const modules = await readLoraModules(file);
    const cache = new DeltaCache();
    const at = async (weight: number, withCache?: DeltaCache) => {
      const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'k', id: 'lokr-cache', modules, te: 1, unet: weight }], { kernel, cache: withCache });
      return [...(await computeAll(merged)).values()][0];
    };
    await at(1, cache);
    assert.strictEqual(cache.size, 1);
    // Poison the cached delta: a re-merge that reads it shows the poison, proving it was not recomputed.
    const key = deltaKey({ name: 'k', id: 'lokr-cache' }, unet, TO_K);
    const cached = cache.get(key)!;
    const fresh = await at(0.3);
    assert.ok(Buffer.from(await at(0.3, cache)).equals(Buffer.from(fresh)));
    cached[0] += 1;
    const poisoned = new Float32Array((await at(0.3, cache)).slice().buffer);
    assert.ok(Math.abs(poisoned[0] - new Float32Array(fresh.slice().buffer)[0] - 0.3) < 1e-6);
    assert.strictEqual(cache.size, 1);
  });

  it('plain LoRA products are cached too: a weight change adds the kept product (bit for bit a fresh merge); another dyn is another delta', async () => {
    const unet = path.join(fp32, 'unet/model.onnx');
    const file = path.join(root, 'lora-cache.safetensors');
    writeSafetensors(file, { ...loraTensors(TO_K, 16, 32, 4, 111), ...loraTensors(FF_2, 16, 64, 4, 113) });
    const modules = await readLoraModules(file);
    const cache = new DeltaCache();
    const at = async (weight: number, withCache?: DeltaCache, dyn?: number) =>
      computeAll(await mergeIntoGraph(unet, 'unet', [{ name: 'p', id: 'lora-cache', modules, te: 1, unet: weight, dyn }], { kernel, cache: withCache }));
    const same = (a: Map<string, Uint8Array>, b: Map<string, Uint8Array>) => {
      assert.deepStrictEqual([...a.keys()], [...b.keys()]);
      for (const [name, bytes] of a) assert.ok(Buffer.from(bytes).equals(Buffer.from(b.get(name)!)), name);
    };
    await at(0.8, cache);
    assert.strictEqual(cache.size, 2);
    same(await at(0.5, cache), await at(0.5));
    // Poison the kept product of to_k: the re-merge shows it, so it added the kept one instead of recomputing.
    cache.get(deltaKey({ name: 'p', id: 'lora-cache' }, unet, TO_K))![0] += 1;
    const toK = indexWeights(readOnnxModel(unet)).byModule.get(TO_K)!.initializer;
    const poisoned = new Float32Array((await at(0.5, cache)).get(toK)!.slice().buffer);
    const fresh = new Float32Array((await at(0.5)).get(toK)!.slice().buffer);
    assert.ok(Math.abs(poisoned[0] - fresh[0] - 0.5) < 1e-6, `${poisoned[0]} against ${fresh[0]}`);
    // dyn 2 keeps the first two ranks: a delta of its own, not the kept rank-4 product.
    same(await at(0.5, cache, 2), await at(0.5, undefined, 2));
    assert.strictEqual(cache.size, 4);
  });

  it('patched weights in a temporary file (the default) or inside the model bytes: the session computes the same', async () => {
    const unet = path.join(fp32, 'unet/model.onnx');
    const file = path.join(root, 'big.safetensors');
    writeSafetensors(file, { ...loraTensors(TO_K, 16, 32, 2, 81), ...loraTensors(FF_2, 16, 64, 2, 83) });
    const modules = await readLoraModules(file);
    const feeds = {
      sample: new ort.Tensor('float32', random(4 * 8 * 8, 7), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', random(77 * 32, 8), [1, 77, 32]),
    };
    const run = async (placement: 'inline' | 'file') => {
      const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'x', modules, te: 1, unet: 1 }], { kernel });
      const model = await sessionModel(merged, { placement });
      const temp = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('sd-prompt-merge-'));
      const session = await ort.InferenceSession.create(model.bytes, { extra: { session: { model_external_initializers_file_folder_path: model.folder } } });
      assert.ok(model.dispose());
      const out = (await session.run(feeds)).out_sample.data as Float32Array;
      await session.release();
      return { out, folder: model.folder, temp };
    };
    // A crashed renderer's folder from two hours ago is removed by the next merge; a fresh one is left alone.
    const stale = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-merge-'));
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-merge-'));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(stale, twoHoursAgo, twoHoursAgo);
    const inline = await run('inline');
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('sd-prompt-merge-')));
    const onDisk = await run('file');
    assert.strictEqual(fs.existsSync(stale), false);
    assert.strictEqual(fs.existsSync(fresh), true);
    fs.rmSync(fresh, { recursive: true });
    assert.strictEqual(inline.folder, path.join(fp32, 'unet'));
    assert.strictEqual(onDisk.folder, path.parse(fp32).root);
    assert.strictEqual(onDisk.temp.filter((f) => !before.has(f)).length, 1, 'one temporary folder while the session is created');
    assert.deepStrictEqual(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('sd-prompt-merge-') && !before.has(f)), [], 'and none after dispose');
    assert.deepStrictEqual(Array.from(onDisk.out), Array.from(inline.out));
  });
});

/**
 * Real files against graphs with SD1.5's and SDXL's real structure and shapes (built, not written:
 * modelFromBuilder gives the index what the decoder would): every module must find its weight and
 * fit its shape, as a merge into a real export would.
 */
describe('LoRA files against SD1.5- and SDXL-shaped graphs', function () {
  this.timeout(60000);
  const indexes = (config: PipelineConfig) => {
    const { graphs } = buildPipelineGraphs(config);
    const byComponent = new Map<string, WeightIndex>();
    for (const [component, graph] of Object.entries(graphs)) {
      if (component === 'vae_decoder') continue;
      byComponent.set(component, indexWeights(modelFromBuilder(graph.model, `/virtual/${graph.file}`, graph.externalData)));
    }
    return byComponent;
  };
  const sd15 = indexes(SD15_SIZED);
  const sdxl = indexes(SDXL_SIZED);

  /** Modules whose weight is missing or whose shape does not fit, as `component:module: why`. */
  const misfits = (modules: LoraModule<LoraTensor>[], graphs: Map<string, WeightIndex>, fits: (m: LoraModule<LoraTensor>, shape: number[]) => string | undefined) =>
    modules.flatMap((m) => {
      const entry = graphs.get(m.component)?.byModule.get(m.module);
      if (!entry) return [`${m.component}:${m.module}: no weight`];
      const why = fits(m, torchShape(entry));
      return why ? [`${m.component}:${m.module}: ${why}`] : [];
    });

  for (const [prefix, graphs, counts] of [
    ['sd15_kohya_', sd15, { text_encoder: 72, unet: 192 }],
    ['sdxl_kohya_', sdxl, { text_encoder: 72, text_encoder_2: 192, unet: 722 }],
  ] as const) {
    for (const file of fs.readdirSync(path.join(FIXTURES, 'lora/key_manifests')).filter((f) => f.startsWith(prefix) && f.endsWith('.keys.json'))) {
      it(`${file}: every module lands on a weight of its shape`, () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'lora/key_manifests', file), 'utf8')) as Record<string, { shape: number[] }>;
        const keys = mapLoraKeys(Object.keys(manifest));
        assert.ok(!isLoraKeyMapError(keys));
        assert.deepStrictEqual(keys.unmatched, []);
        // The manifest has shapes, not values: zeros of those shapes go through the merge's own shape check.
        const modules = keys.modules.map((m) => ({
          ...m,
          tensors: Object.fromEntries(Object.entries(m.tensors).map(([role, key]) => {
            const dims = manifest[key as string].shape;
            return [role, { dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) }];
          })),
        })) as LoraModule<LoraTensor>[];
        const perComponent: Record<string, number> = {};
        for (const m of modules) perComponent[m.component] = (perComponent[m.component] ?? 0) + 1;
        assert.deepStrictEqual(perComponent, counts);
        assert.deepStrictEqual(
          misfits(modules, graphs, (m, shape) => {
            const f = lowRankFactors(m, shape);
            return f === undefined ? 'not a plain LoRA' : isLoraMathError(f) ? f.error : undefined;
          }),
          [],
        );
      });
    }
  }

  it('the diffusers attention-processor file: all 128 modules land on SD1.5 weights of their shape', async () => {
    const modules = await readLoraModules(path.join(FIXTURES, 'lora/diffusers/catundchat_sd15_attnprocs_f32.safetensors'));
    assert.strictEqual(modules.length, 128);
    assert.deepStrictEqual(
      misfits(modules, sd15, (m, shape) => {
        const f = lowRankFactors(m, shape);
        return f === undefined ? 'not a plain LoRA' : isLoraMathError(f) ? f.error : undefined;
      }),
      [],
    );
  });

  for (const rank of [4, 8, 16]) {
    it(`the LyCORIS LoKr file smart_falcon_${rank}: every module lands on an SD1.5 weight${rank === 4 ? ' and its ΔW has that shape' : ''}`, async () => {
      const modules = await readLoraModules(path.join(FIXTURES, `lora/lycoris/smart_falcon_${rank}_lokr.safetensors`));
      // 278 UNet modules and 72 text-encoder ones (12 layers × q/k/v/out_proj, fc1, fc2).
      assert.strictEqual(modules.length, 350);
      // Computing every ΔW takes ~5 s per file here; the three files differ only in their factor ranks.
      assert.deepStrictEqual(
        misfits(modules, sd15, (m, shape) => {
          if (rank !== 4) return undefined;
          const delta = deltaWeight(m, 1, shape);
          return isLoraMathError(delta) ? delta.error : undefined;
        }),
        [],
      );
    });
  }
});
