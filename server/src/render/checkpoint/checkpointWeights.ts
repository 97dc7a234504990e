import * as fs from 'fs';
import { SafetensorsTensor } from '../../service/library/safetensors';
import { PipelineComponent, SdArchitecture, WeightDtype, WeightRef, WeightSource } from '../sdGraphs/architecture';
import { CheckpointError } from './checkpointError';
import { CheckpointFile } from './checkpointFile';
import { LdmTableEntry, ldmKeyTable } from './ldmKeyTable';

/**
 * A checkpoint's weights by diffusers name: each one is the byte range of its LDM tensor in the file (ONNX
 * external data points there; nothing is copied), or a row range of it (OpenCLIP's fused q/k/v). Only
 * OpenCLIP's `text_projection`, stored transposed, is rebuilt in memory. Keys the table does not read
 * (`model_ema.*`, `alphas_cumprod`, `position_ids`, the VAE encoder...) are ignored, as A1111 ignores them.
 */

const DTYPES: ReadonlyMap<string, { dtype: WeightDtype; bytes: number }> = new Map([
  ['F32', { dtype: 'float32', bytes: 4 }],
  ['F16', { dtype: 'float16', bytes: 2 }],
  ['BF16', { dtype: 'bfloat16', bytes: 2 }],
]);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function tableKey(component: PipelineComponent, name: string): string {
  return `${component}:${name}`;
}

export class CheckpointWeights implements WeightSource {
  private readonly entries = new Map<string, LdmTableEntry>();
  private readonly transposed = new Map<string, WeightRef>();

  constructor(readonly file: CheckpointFile, readonly table: readonly LdmTableEntry[]) {
    for (const entry of table) this.entries.set(tableKey(entry.component, entry.name), entry);
  }

  static of(file: CheckpointFile, arch: SdArchitecture): CheckpointWeights {
    return new CheckpointWeights(file, ldmKeyTable(arch));
  }

  /** Every diffusers name of a component, in table order (what a graph builder may ask for). */
  names(component: PipelineComponent): string[] {
    return this.table.filter((e) => e.component === component).map((e) => e.name);
  }

  /** The LDM tensor behind an entry, checked: present, a float dtype, the shape the architecture implies. */
  private tensorOf(entry: LdmTableEntry): SafetensorsTensor & { element: { dtype: WeightDtype; bytes: number } } {
    const where = `(${entry.component} weight ${entry.name})`;
    const tensor = this.file.tensors.get(entry.ldmKey);
    if (tensor === undefined) throw new CheckpointError('missing-key', `${this.file.path} has no "${entry.ldmKey}" ${where}`);
    const element = DTYPES.get(tensor.dtype);
    if (element === undefined) {
      throw new CheckpointError('bad-dtype', `${this.file.path}: "${entry.ldmKey}" is ${tensor.dtype}; checkpoint weights must be F32, F16 or BF16 ${where}`);
    }
    if (!sameShape(tensor.shape, entry.ldmShape)) {
      throw new CheckpointError(
        'bad-shape',
        `${this.file.path}: "${entry.ldmKey}" has shape [${tensor.shape.join(', ')}], the model's other tensors imply [${entry.ldmShape.join(', ')}] ${where}`,
      );
    }
    return { ...tensor, element };
  }

  weight(component: PipelineComponent, name: string): WeightRef {
    const entry = this.entries.get(tableKey(component, name));
    if (entry === undefined) throw new Error(`no weight "${name}" in the ${component} of a ${this.file.path} pipeline`);
    const tensor = this.tensorOf(entry);
    const offset = this.file.dataStart + tensor.begin;
    const length = tensor.end - tensor.begin;
    switch (entry.layout.kind) {
      case 'same':
        return { dtype: tensor.element.dtype, shape: entry.shape, data: { file: this.file.path, offset, length } };
      case 'rows': {
        const rowBytes = length / entry.ldmShape[0];
        return {
          dtype: tensor.element.dtype,
          shape: entry.shape,
          data: { file: this.file.path, offset: offset + entry.layout.start * rowBytes, length: entry.layout.count * rowBytes },
        };
      }
      case 'transpose': {
        const key = tableKey(component, name);
        const cached = this.transposed.get(key);
        if (cached) return cached;
        const ref: WeightRef = { dtype: tensor.element.dtype, shape: entry.shape, data: { bytes: this.readTransposed(entry, offset, length, tensor.element.bytes) } };
        this.transposed.set(key, ref);
        return ref;
      }
    }
  }

  /** A [rows, cols] matrix's bytes as [cols, rows]: read once (small: SDXL's is 1280 × 1280). */
  private readTransposed(entry: LdmTableEntry, offset: number, length: number, elementBytes: number): Uint8Array {
    const source = Buffer.alloc(length);
    const fd = fs.openSync(this.file.path, 'r');
    try {
      let filled = 0;
      while (filled < length) {
        const n = fs.readSync(fd, source, filled, length - filled, offset + filled);
        if (n === 0) throw new CheckpointError('changed-on-disk', `${this.file.path} ended at byte ${offset + filled} while reading "${entry.ldmKey}": it changed on disk`);
        filled += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const [rows, cols] = entry.ldmShape;
    const out = new Uint8Array(length);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const from = (r * cols + c) * elementBytes;
        const to = (c * rows + r) * elementBytes;
        for (let b = 0; b < elementBytes; b++) out[to + b] = source[from + b];
      }
    }
    return out;
  }

  /**
   * Every required weight present with its expected dtype and shape, checked before any graph is built, so a
   * damaged or mismatched file fails at once with the first problem and how many there are.
   */
  validate(): void {
    const problems: CheckpointError[] = [];
    for (const entry of this.table) {
      if (entry.optional && !this.file.tensors.has(entry.ldmKey)) continue;
      try {
        this.tensorOf(entry);
      } catch (reason) {
        if (!(reason instanceof CheckpointError)) throw reason;
        problems.push(reason);
      }
    }
    if (problems.length === 0) return;
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more ${problems.length === 2 ? 'problem' : 'problems'} like it)` : '';
    throw new CheckpointError(first.code, first.message + more);
  }
}
