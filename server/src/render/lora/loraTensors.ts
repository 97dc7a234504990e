import { LibraryFileSystem } from '../../service/library/fileSystem';
import { SafetensorsHeader, SafetensorsTensor, isSafetensorsError, readSafetensorsHeader } from '../../service/library/safetensors';
import { halfToFloatTable } from '../onnx/half';
import type { LoraModule, TensorRole } from './loraKeys';

/**
 * Reads the tensors of a `.safetensors` LoRA as fp32. The merge accumulates in fp32 whatever the file
 * stores (issue 6), so every supported dtype is widened here, exactly: F16 and BF16 both fit in F32
 * without rounding. Tensors are read one at a time (one `read` per tensor) so a large file never sits
 * in memory twice, and each read is checked against the header before and after it happens.
 */

export interface LoraTensor {
  /** The torch shape as stored; `[]` for a scalar such as `alpha`. */
  dims: number[];
  data: Float32Array;
}

export interface LoraTensors {
  tensors: Map<string, LoraTensor>;
  metadata: Record<string, string>;
  /** Tensors present in the file but not decoded (a dtype a LoRA never needs): reported, not dropped. */
  skipped: Array<{ name: string; reason: string }>;
}

export interface LoraTensorsError {
  error: string;
}

export interface ReadLoraTensorsOptions {
  /** Only these tensors (a merge of a text-encoder-only weight need not read the UNet's). */
  names?: ReadonlySet<string>;
}

const BYTES_PER_ELEMENT: ReadonlyMap<string, number> = new Map([
  ['F32', 4],
  ['F16', 2],
  ['BF16', 2],
  ['F64', 8],
]);

/** Typed-array views use the host's byte order; safetensors is little-endian. Checked once. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * `bytes` copied into a fresh, aligned buffer: `readBytes` may hand back a view at any byte offset
 * (safetensors data is not guaranteed aligned), and typed arrays need element alignment.
 */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** Decodes little-endian `dtype` elements to fp32; exact for F32, F16 and BF16 (F64 rounds, as torch's `.float()` does). */
export function decodeTensorData(dtype: string, bytes: Uint8Array, count: number): Float32Array | LoraTensorsError {
  const width = BYTES_PER_ELEMENT.get(dtype);
  if (width === undefined) return { error: `dtype ${dtype} is not a floating-point type a LoRA is stored in` };
  if (bytes.byteLength !== count * width) return { error: `${bytes.byteLength} bytes for ${count} × ${dtype}` };
  const out = new Float32Array(count);
  if (!LITTLE_ENDIAN_HOST) {
    // Rare hosts: DataView reads little-endian explicitly.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const table = halfToFloatTable();
    const widen = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
      else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
      else if (dtype === 'F16') out[i] = table[view.getUint16(i * 2, true)];
      else {
        widen.setUint32(0, view.getUint16(i * 2, true) << 16);
        out[i] = widen.getFloat32(0);
      }
    }
    return out;
  }
  const buffer = aligned(bytes);
  switch (dtype) {
    case 'F32':
      out.set(new Float32Array(buffer));
      break;
    case 'F64':
      out.set(new Float64Array(buffer));
      break;
    case 'F16': {
      const table = halfToFloatTable();
      const halves = new Uint16Array(buffer);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      break;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place and reinterpret.
      const halves = new Uint16Array(buffer);
      const words = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
      break;
    }
  }
  return out;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** One tensor, read and decoded; the header was validated, but the file may have changed since. */
async function readOne(
  read: (offset: number, length: number) => Promise<Uint8Array>,
  header: SafetensorsHeader,
  tensor: SafetensorsTensor,
): Promise<LoraTensor | LoraTensorsError> {
  const width = BYTES_PER_ELEMENT.get(tensor.dtype) as number;
  const count = elementCount(tensor.shape);
  const length = tensor.end - tensor.begin;
  if (length !== count * width || tensor.end > header.dataLength) {
    return { error: `tensor "${tensor.name}" [${tensor.begin}, ${tensor.end}] does not fit its shape or the data section` };
  }
  const bytes = length === 0 ? new Uint8Array(0) : await read(header.dataStart + tensor.begin, length);
  if (bytes.byteLength !== length) {
    return { error: `file ended while reading tensor "${tensor.name}" (${bytes.byteLength} of ${length} bytes)` };
  }
  const data = decodeTensorData(tensor.dtype, bytes, count);
  if (!(data instanceof Float32Array)) return { error: `tensor "${tensor.name}": ${data.error}` };
  return { dims: [...tensor.shape], data };
}

export async function readLoraTensors(
  fs: LibraryFileSystem,
  path: string,
  options: ReadLoraTensorsOptions = {},
): Promise<LoraTensors | LoraTensorsError> {
  const header = await readSafetensorsHeader(fs, path);
  if (isSafetensorsError(header)) return header;
  const tensors = new Map<string, LoraTensor>();
  const skipped: LoraTensors['skipped'] = [];
  // One open file for all reads where the file system offers it: a LoRA has hundreds of tensors.
  const file = fs.open ? await fs.open(path).catch(() => undefined) : undefined;
  const read = (offset: number, length: number) => (file ? file.read(offset, length) : fs.readBytes(path, offset, length));
  try {
    // Header order is file order (sorted by `begin`), so reads move forward through the file.
    for (const tensor of header.tensors) {
      if (options.names !== undefined && !options.names.has(tensor.name)) continue;
      if (!BYTES_PER_ELEMENT.has(tensor.dtype)) {
        skipped.push({ name: tensor.name, reason: `dtype ${tensor.dtype} is not a float type (F32, F16, BF16, F64)` });
        continue;
      }
      const result = await readOne(read, header, tensor);
      if ('error' in result) return result;
      tensors.set(tensor.name, result);
    }
  } catch (reason) {
    return { error: `cannot read ${path}: ${describe(reason)}` };
  } finally {
    await file?.close().catch(() => undefined);
  }
  return { tensors, metadata: header.metadata, skipped };
}

/**
 * A mapped module with its tensor names replaced by the tensors, ready for `deltaWeight`; an error
 * names the missing key (the caller read a subset, or the file changed between mapping and reading).
 */
export function resolveModule(module: LoraModule<string>, tensors: ReadonlyMap<string, LoraTensor>): LoraModule<LoraTensor> | LoraTensorsError {
  const resolved: Partial<Record<TensorRole, LoraTensor>> = {};
  for (const [role, name] of Object.entries(module.tensors) as Array<[TensorRole, string]>) {
    const tensor = tensors.get(name);
    if (tensor === undefined) return { error: `${module.component}:${module.module}: tensor "${name}" was not read` };
    resolved[role] = tensor;
  }
  return { ...module, tensors: resolved };
}
