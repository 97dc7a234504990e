import * as fs from 'fs';
import { LoraComponent, LoraModule } from './loraKeys';
import { deltaWeight, isLoraMathError, lowRankFactors } from './loraMath';
import { LoraTensor } from './loraTensors';
import { DeltaCache } from './deltaCache';
import { MergeKernel } from './mergeKernel';
import { GraphCache, parseGraph } from './graphCache';
import { OnnxInitializer, WeightEntry } from './onnxIndex';
import { halfToFloat } from '../half';

/**
 * Merging LoRAs into one ONNX graph (design §4): each LoRA module lands on the initializer of its
 * diffusers module path, in the initializer's own layout (from its op, never its shape). Per
 * weight, the low-rank products of every LoRA on it and the JS-computed deltas of the other kinds
 * are added to the base weight in fp32 and rounded once into its dtype (MergeKernel's Gemm). Only
 * the patched weights are read and written: the result is their new bytes, which
 * mergedModelFiles.ts points the model at while every other weight stays in the user's files.
 */
export interface LoraInput {
  name: string;
  /** Identifies the file's contents for the delta cache (path, size, mtime); `name` when absent. */
  id?: string;
  /** Modules with their tensors resolved (loraKeys + loraTensors). */
  modules: LoraModule<LoraTensor>[];
  /** The tag's multipliers: te for the text encoders, unet for the UNet. */
  te: number;
  unet: number;
  /** A1111's `dyn`: only the first `dyn` ranks of plain LoRA modules. */
  dyn?: number;
}

export interface ComponentMergeReport {
  name: string;
  /** Modules merged into this component's graph. */
  matched: number;
  /** Modules of this component with no weight in the graph. */
  unmatched: string[];
  /** Modules whose shapes do not fit their weight, with the reason. */
  mismatched: string[];
}

/** A weight the merge changes: its initializer and how many bytes it has. */
export interface PatchedWeight {
  initializer: string;
  length: number;
}

/**
 * What merging LoRAs into one graph does, worked out but not yet computed: the reports, and for
 * each patched weight its factors and deltas. `compute` then produces the new weights one at a
 * time into a reused buffer, so the caller writes them where they go (into model bytes for a
 * session, or a file) and no second copy of them is ever held.
 */
export interface MergedGraph {
  /** The model file the merge read; its other weights stay where they are. */
  modelFile: string;
  /** Every initializer of the model with where its bytes lie (parsed once, by the merge). */
  initializers: readonly OnnxInitializer[];
  patches: PatchedWeight[];
  reports: ComponentMergeReport[];
  /**
   * Calls `sink` with each patched weight's new bytes, in `patches` order; the bytes are valid until
   * `sink` returns (or the promise it returns settles).
   */
  compute(sink: (patch: PatchedWeight, bytes: Uint8Array) => void | Promise<void>): Promise<void>;
}

export interface MergeContext {
  kernel: MergeKernel;
  /** Keeps JS-computed deltas between merges (a weight change then only re-adds them). */
  cache?: DeltaCache;
  /** Keeps parsed graphs between merges (a weight change then does not parse the model again). */
  graphs?: GraphCache;
}

/** The torch layout [out, in(, kh, kw)] of a weight, from how its op uses it. */
export function torchShape(entry: WeightEntry): number[] {
  return entry.layout === 'in_out' ? [entry.dims[1], entry.dims[0]] : entry.dims;
}

/** What goes onto one weight: low-rank factors (times their multiplier) and full deltas in its layout. */
interface WeightPlan {
  entry: WeightEntry;
  factors: { up: Float32Array; down: Float32Array; rank: number; factor: number }[];
  deltas: { delta: Float32Array; factor: number }[];
}

export async function mergeIntoGraph(modelFile: string, component: LoraComponent, loras: LoraInput[], context: MergeContext): Promise<MergedGraph> {
  const { model, index } = context.graphs?.get(modelFile) ?? parseGraph(modelFile);
  if (index.fused) throw new Error(index.fused.message);
  const plans = new Map<string, WeightPlan>();
  const reports: ComponentMergeReport[] = [];
  const reader = new WeightReader(modelFile);
  try {
    for (const lora of loras) {
      const report: ComponentMergeReport = { name: lora.name, matched: 0, unmatched: [], mismatched: [] };
      reports.push(report);
      const multiplier = component === 'unet' ? lora.unet : lora.te;
      for (const module of lora.modules) {
        if (module.component !== component) continue;
        const entry = index.byModule.get(module.module);
        if (!entry) {
          report.unmatched.push(module.module);
          continue;
        }
        if (entry.dtype !== 'float32' && entry.dtype !== 'float16') {
          report.mismatched.push(`${component}:${module.module}: cannot merge into its ${entry.dtype} weight ${entry.initializer}`);
          continue;
        }
        const shape = torchShape(entry);
        const planFor = () => {
          let plan = plans.get(entry.initializer);
          if (!plan) plans.set(entry.initializer, (plan = { entry, factors: [], deltas: [] }));
          return plan;
        };
        const factors = lowRankFactors(module, shape, lora.dyn);
        if (isLoraMathError(factors)) {
          report.mismatched.push(factors.error);
          continue;
        }
        if (factors) {
          report.matched++;
          if (multiplier !== 0) planFor().factors.push({ ...factors, factor: factors.scale * multiplier });
          continue;
        }
        // Every other kind: ΔW at multiplier 1 (linear in it, DoRA included), in the weight's layout.
        const key = `${lora.id ?? lora.name}|${modelFile}|${module.module}`;
        let delta = context.cache?.get(key);
        if (!delta) {
          // DoRA normalises W + ΔW, so it needs the module's current weight (torch layout).
          const baseWeight = module.tensors.doraScale ? toTorchLayout(await reader.float32(entry), entry) : undefined;
          const computed = deltaWeight(module, 1, shape, { baseWeight, dyn: lora.dyn });
          if (isLoraMathError(computed)) {
            report.mismatched.push(computed.error);
            continue;
          }
          delta = entry.layout === 'in_out' ? transpose(computed, shape[0], shape[1]) : computed;
          context.cache?.set(key, delta);
        }
        report.matched++;
        if (multiplier !== 0) planFor().deltas.push({ delta, factor: multiplier });
      }
    }
  } finally {
    await reader.close();
  }
  const planned = [...plans.values()];
  return {
    modelFile,
    initializers: model.graph.initializers,
    reports,
    patches: planned.map((p) => ({ initializer: p.entry.initializer, length: p.entry.location.length })),
    compute: async (sink) => {
      const weights = new WeightReader(modelFile);
      // Three buffers in turn. onnxruntime-node runs a session on the calling thread, so the base of
      // weight i+1 is read and weight i−1 is handed to the sink (a file write) on libuv's threads,
      // while this thread and ORT's run weight i's Gemm in place.
      const largest = Math.max(0, ...planned.map((p) => p.entry.location.length));
      const scratch = [0, 1, 2].map(() => new ArrayBuffer(largest));
      const bufferFor = (i: number) => new Uint8Array(scratch[i % 3], 0, planned[i].entry.location.length);
      let reading: Promise<void> = planned.length ? weights.read(planned[0].entry, bufferFor(0)) : Promise.resolve();
      let sinking: Promise<void> = Promise.resolve();
      try {
        for (let i = 0; i < planned.length; i++) {
          const bytes = bufferFor(i);
          await reading;
          // Weight i+1 goes into the buffer weight i−2 used: its sink finished before this iteration.
          reading = i + 1 < planned.length ? weights.read(planned[i + 1].entry, bufferFor(i + 1)) : Promise.resolve();
          await mergeWeight(planned[i], bytes, context.kernel);
          await sinking;
          sinking = Promise.resolve(sink({ initializer: planned[i].entry.initializer, length: bytes.length }, bytes));
        }
        await sinking;
      } finally {
        await Promise.allSettled([reading, sinking]);
        await weights.close();
      }
    },
  };
}

/** Rows × columns of a weight as stored: [in, out] for MatMul, [out, in·k] for Gemm and Conv. */
function storedMatrix(entry: WeightEntry): { rows: number; cols: number } {
  const rows = entry.dims[0];
  return { rows, cols: entry.dims.slice(1).reduce((a, b) => a * b, 1) };
}

/** `bytes` holds the base weight and receives the merged one. */
async function mergeWeight(plan: WeightPlan, bytes: Uint8Array, kernel: MergeKernel): Promise<void> {
  const { entry } = plan;
  const { rows, cols } = storedMatrix(entry);
  const out = entry.dtype === 'float32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  let base: Float32Array | Uint16Array = out;
  if (plan.deltas.length) {
    const sum = out instanceof Float32Array ? out : Float32Array.from(out, halfToFloat);
    for (const { delta, factor } of plan.deltas) for (let i = 0; i < sum.length; i++) sum[i] += factor * delta[i];
    base = sum;
  }
  // The factors side by side along the rank: Σ fᵢ·upᵢ·downᵢ = [f₁up₁ | f₂up₂] · [down₁; down₂].
  const rank = Math.max(1, plan.factors.reduce((n, f) => n + f.rank, 0));
  const a = new Float32Array(rows * rank);
  const b = new Float32Array(rank * cols);
  let at = 0;
  for (const { up, down, rank: r, factor } of plan.factors) {
    if (entry.layout === 'in_out') {
      // Stored Wᵀ [in, out] = downᵀ · upᵀ: a = f·downᵀ [in × r], b = upᵀ [r × out].
      for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) a[i * rank + at + k] = factor * down[k * rows + i];
      for (let k = 0; k < r; k++) for (let j = 0; j < cols; j++) b[(at + k) * cols + j] = up[j * r + k];
    } else {
      for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) a[i * rank + at + k] = factor * up[i * r + k];
      b.set(down.subarray(0, r * cols), at * cols);
    }
    at += r;
  }
  // In place: ORT's Gemm copies C into Y (here the same memory) before accumulating A·B into it.
  await kernel.run(a, b, rows, rank, cols, base, out);
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** A stored weight (fp32) as torch lays it out. */
function toTorchLayout(stored: Float32Array, entry: WeightEntry): Float32Array {
  return entry.layout === 'in_out' ? transpose(stored, entry.dims[0], entry.dims[1]) : stored;
}

/**
 * Reads single weights from the model file (raw_data inside it) or its external data files, one open
 * file each. Only the patched weights are read: a text encoder keeps its 0.5 GB of weights inline.
 */
class WeightReader {
  private readonly handles = new Map<string, Promise<fs.promises.FileHandle>>();

  constructor(private readonly modelFile: string) {}

  /** Reads the weight into `out` on libuv's threads. */
  async read(entry: WeightEntry, out: Uint8Array): Promise<void> {
    const loc = entry.location;
    const name = loc.kind === 'inline' ? this.modelFile : loc.file;
    let handle = this.handles.get(name);
    if (!handle) this.handles.set(name, (handle = fs.promises.open(name, 'r')));
    const file = await handle;
    for (let at = 0; at < loc.length; ) {
      const { bytesRead } = await file.read(out, at, loc.length - at, loc.offset + at);
      if (bytesRead === 0) throw new Error(`${name} ended at byte ${loc.offset + at}, inside ${entry.initializer}`);
      at += bytesRead;
    }
  }

  /** The weight as fp32, as stored. */
  async float32(entry: WeightEntry): Promise<Float32Array> {
    const bytes = new Uint8Array(entry.location.length);
    await this.read(entry, bytes);
    if (entry.dtype === 'float16') return Float32Array.from(new Uint16Array(bytes.buffer), halfToFloat);
    return new Float32Array(bytes.buffer);
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (h) => (await h.catch(() => undefined))?.close()));
  }
}

/** Every patched weight's new bytes by initializer (tests and small graphs: this holds them all at once). */
export async function computeAll(merged: MergedGraph): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await merged.compute((patch, bytes) => {
    out.set(patch.initializer, bytes.slice());
  });
  return out;
}
