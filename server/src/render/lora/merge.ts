import * as fs from 'fs';
import { LoraComponent, LoraModule } from './loraKeys';
import { deltaWeight, isLoraMathError } from './loraMath';
import { LoraTensor } from './loraTensors';
import { indexWeights, readOnnxModel, WeightEntry } from './onnxIndex';
import { floatToHalf, halfToFloat } from '../half';

/**
 * Merging LoRAs into one ONNX graph (design §4): each LoRA module lands on the initializer of
 * its diffusers module path; deltas of all LoRAs are summed in fp32 in torch's layout, turned
 * into the initializer's layout by its op (never by its shape), added to the base weight and
 * rounded once into the initializer's dtype. The user's files are never written: the result is
 * the model bytes and patched copies of its external data, for `InferenceSession.create(bytes,
 * { externalData })`.
 */
export interface LoraInput {
  name: string;
  /** Modules with their tensors resolved (loraKeys + loraTensors). */
  modules: LoraModule<LoraTensor>[];
  /** The tag's multipliers: te for the text encoders, unet for the UNet. */
  te: number;
  unet: number;
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

export interface MergedGraph {
  modelBytes: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
  reports: ComponentMergeReport[];
  /** Initializers that were changed. */
  patched: string[];
}

/** The torch layout [out, in(, kh, kw)] of a weight, from how its op uses it. */
export function torchShape(entry: WeightEntry): number[] {
  return entry.layout === 'in_out' ? [entry.dims[1], entry.dims[0]] : entry.dims;
}

export function mergeIntoGraph(modelFile: string, component: LoraComponent, loras: LoraInput[]): MergedGraph {
  const model = readOnnxModel(modelFile);
  const index = indexWeights(model);
  if (index.fused) throw new Error(index.fused.message);
  const modelBytes = new Uint8Array(fs.readFileSync(modelFile));
  const external = new Map<string, { path: string; data: Uint8Array }>();
  const bytesOf = (entry: WeightEntry): { bytes: Uint8Array; offset: number } => {
    if (entry.location.kind === 'inline') return { bytes: modelBytes, offset: entry.location.offset };
    let file = external.get(entry.location.file);
    if (!file) external.set(entry.location.file, (file = { path: entry.location.location, data: readWhole(entry.location.file) }));
    return { bytes: file.data, offset: entry.location.offset };
  };
  const deltas = new Map<string, { entry: WeightEntry; sum: Float32Array }>();
  const reports: ComponentMergeReport[] = [];
  for (const lora of loras) {
    const report: ComponentMergeReport = { name: lora.name, matched: 0, unmatched: [], mismatched: [] };
    const multiplier = component === 'unet' ? lora.unet : lora.te;
    for (const module of lora.modules) {
      if (module.component !== component) continue;
      const entry = index.byModule.get(module.module);
      if (!entry) {
        report.unmatched.push(module.module);
        continue;
      }
      const shape = torchShape(entry);
      // DoRA normalises W + ΔW, so it needs the module's current weight (torch layout).
      const baseWeight = module.tensors.doraScale ? readTorchWeight(bytesOf(entry), entry) : undefined;
      const delta = deltaWeight(module, multiplier, shape, { baseWeight });
      if (isLoraMathError(delta)) {
        report.mismatched.push(delta.error);
        continue;
      }
      let slot = deltas.get(entry.initializer);
      if (!slot) deltas.set(entry.initializer, (slot = { entry, sum: new Float32Array(delta.length) }));
      for (let i = 0; i < delta.length; i++) slot.sum[i] += delta[i];
      report.matched++;
    }
    reports.push(report);
  }

  for (const { entry, sum } of deltas.values()) {
    const { bytes, offset } = bytesOf(entry);
    addInPlace(bytes, offset, entry, sum);
  }
  return { modelBytes, externalData: [...external.values()], reports, patched: [...deltas.keys()] };
}

/** In an in_out initializer (Wᵀ), torch element k = o·in + i sits at i·out + o. */
function storedIndex(entry: WeightEntry): (k: number) => number {
  const [inputs, outputs] = entry.dims;
  return entry.layout === 'in_out' ? (k) => (k % inputs) * outputs + Math.floor(k / inputs) : (k) => k;
}

/** The weight as fp32 in torch layout. */
function readTorchWeight({ bytes, offset }: { bytes: Uint8Array; offset: number }, entry: WeightEntry): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const count = entry.dims.reduce((a, b) => a * b, 1);
  const stored = storedIndex(entry);
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const s = stored(k);
    out[k] = entry.dtype === 'float16' ? halfToFloat(view.getUint16(s * 2, true)) : view.getFloat32(s * 4, true);
  }
  return out;
}

/** base += delta at `offset`, delta given in torch layout, computed in fp32 and rounded once. */
function addInPlace(bytes: Uint8Array, offset: number, entry: WeightEntry, delta: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const stored = storedIndex(entry);
  for (let k = 0; k < delta.length; k++) {
    const s = stored(k);
    if (entry.dtype === 'float32') view.setFloat32(s * 4, view.getFloat32(s * 4, true) + delta[k], true);
    else if (entry.dtype === 'float16') view.setUint16(s * 2, floatToHalf(halfToFloat(view.getUint16(s * 2, true)) + delta[k]), true);
    else throw new Error(`${entry.initializer}: cannot merge into a ${entry.dtype} weight`);
  }
}

/**
 * A whole file in one array, read in chunks (`readFileSync` stops at 2 GiB; an SD1.5 fp32 UNet's
 * data is 3.4 GB). One array holds at most `buffer.constants.MAX_LENGTH` bytes (4 GiB on Node 20).
 */
function readWhole(file: string): Uint8Array {
  const size = fs.statSync(file).size;
  const max = require('buffer').constants.MAX_LENGTH as number;
  if (size > max) {
    throw new Error(`${file} is ${(size / 2 ** 30).toFixed(1)} GiB: merging into weights this large needs more than one ${(max / 2 ** 30).toFixed(0)} GiB buffer, which is not supported yet`);
  }
  const out = new Uint8Array(size);
  const fd = fs.openSync(file, 'r');
  try {
    for (let at = 0; at < size; ) {
      const n = fs.readSync(fd, out, at, Math.min(256 * 2 ** 20, size - at), at);
      if (n === 0) throw new Error(`${file} ended after ${at} of ${size} bytes`);
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
