import { createHash } from 'node:crypto';
import { LibraryFileSystem } from './fileSystem';

/**
 * safetensors header reading: the 8-byte little-endian header length, then the JSON header. Tensor
 * data is never read here except for one scalar (`readScalar`) or, on request, the hash (`shortHash`).
 * Every public function returns `{ error }` for a bad file instead of throwing: a library scan meets
 * truncated downloads and renamed non-safetensors files all the time.
 */

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Offsets relative to the start of the data section (`dataStart`), as the header stores them. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  headerLength: number;
  /** Absolute file offset of the data section: 8 + headerLength. */
  dataStart: number;
  /** Bytes after the header (file size − dataStart). */
  dataLength: number;
  /** The `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
  /** Sorted by `begin`, the order of the data in the file. */
  tensors: SafetensorsTensor[];
}

export interface SafetensorsError {
  error: string;
}

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_LENGTH = 100_000_000;

/**
 * Bits per element of every dtype the safetensors spec lists (bits, not bytes, because the spec also
 * has 4- and 6-bit float types whose tensors are packed).
 */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
]);

export function isSafetensorsError(value: unknown): value is SafetensorsError {
  return typeof value === 'object' && value !== null && typeof (value as SafetensorsError).error === 'string';
}

function describeFailure(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

// ---- parsing (pure) -----------------------------------------------------------------------------

/**
 * The header length from the first 8 bytes, or an error. Read as a BigInt because a corrupt file can
 * hold any 64-bit value and Number would silently round it.
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number): number | SafetensorsError {
  if (fileSize < 8 || prefix.length < 8) {
    return { error: `file is ${fileSize} bytes, shorter than the 8-byte header length` };
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_LENGTH)) {
    return { error: `header length ${length} is above the ${MAX_HEADER_LENGTH}-byte limit` };
  }
  const headerLength = Number(length);
  if (8 + headerLength > fileSize) {
    return { error: `header length ${headerLength} goes beyond the end of the file (${fileSize} bytes)` };
  }
  return headerLength;
}

function parseMetadata(value: unknown): Record<string, string> | SafetensorsError {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: '__metadata__ is not a map of strings to strings' };
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      return { error: `__metadata__ is not a map of strings to strings ("${key}" is ${jsonKind(entry)})` };
    }
    metadata[key] = entry;
  }
  return metadata;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** One tensor entry, checked on its own (offsets against the data section, size against the shape). */
function parseTensor(name: string, value: unknown, dataLength: number): SafetensorsTensor | SafetensorsError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: `tensor "${name}" is not an object` };
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !DTYPE_BITS.has(dtype)) {
    return { error: `tensor "${name}" has unknown dtype ${JSON.stringify(dtype ?? null)}` };
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return { error: `tensor "${name}" has a shape that is not a list of non-negative integers: ${JSON.stringify(shape ?? null)}` };
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1]) || offsets[0] > offsets[1]) {
    return { error: `tensor "${name}" has data_offsets that are not [begin, end] with 0 <= begin <= end: ${JSON.stringify(offsets ?? null)}` };
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    return { error: `tensor "${name}" data_offsets [${begin}, ${end}] go beyond the data section (${dataLength} bytes)` };
  }
  // BigInt so a huge shape cannot overflow into a coincidental match.
  const elements = (shape as number[]).reduce((product, size) => product * BigInt(size), 1n);
  const bits = elements * BigInt(DTYPE_BITS.get(dtype) as number);
  if (bits !== BigInt(end - begin) * 8n) {
    const size = bits % 8n === 0n ? `${bits / 8n} bytes` : `${bits} bits`;
    return {
      error: `tensor "${name}" shape [${(shape as number[]).join(', ')}] × ${dtype} is ${size}, but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
    };
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

function findOverlap(sorted: SafetensorsTensor[]): SafetensorsError | undefined {
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1];
    const current = sorted[i];
    if (current.begin < previous.end) {
      return {
        error: `tensors "${previous.name}" [${previous.begin}, ${previous.end}] and "${current.name}" [${current.begin}, ${current.end}] overlap`,
      };
    }
  }
  return undefined;
}

/**
 * Validates the header JSON text of a file of `fileSize` bytes whose header is `headerLength` bytes.
 * Pure, so tests (and key manifests without tensor data) can build headers in memory.
 * Gaps between tensors are accepted: only the byte ranges that tensors claim must be sound.
 */
export function parseHeaderJson(json: string, headerLength: number, fileSize: number): SafetensorsHeader | SafetensorsError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { error: 'header is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { error: `header is not a JSON object (it is ${jsonKind(parsed)})` };
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      const result = parseMetadata(value);
      if (isSafetensorsError(result)) return result;
      metadata = result;
      continue;
    }
    const tensor = parseTensor(name, value, dataLength);
    if (isSafetensorsError(tensor)) return tensor;
    tensors.push(tensor);
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const overlap = findOverlap(tensors);
  if (overlap !== undefined) return overlap;
  return { headerLength, dataStart, dataLength, metadata, tensors };
}

/** Decodes the header bytes as UTF-8, refusing invalid sequences (the spec requires UTF-8). */
export function decodeHeader(bytes: Uint8Array): string | SafetensorsError {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { error: 'header is not valid UTF-8' };
  }
}

// ---- reading ------------------------------------------------------------------------------------

/** The header of a file whose size the caller already knows (the cache has just stat-ed it). */
async function readHeaderOfSize(fs: LibraryFileSystem, path: string, fileSize: number): Promise<SafetensorsHeader | SafetensorsError> {
  // One open file for both reads where the file system offers it (a scan reads thousands).
  const file = fs.open ? await fs.open(path).catch(() => undefined) : undefined;
  const read = (offset: number, length: number) => (file ? file.read(offset, length) : fs.readBytes(path, offset, length));
  try {
    const prefix = fileSize >= 8 ? await read(0, 8) : new Uint8Array(0);
    const headerLength = parseHeaderLength(prefix, fileSize);
    if (isSafetensorsError(headerLength)) return headerLength;
    const headerBytes = await read(8, headerLength);
    if (headerBytes.length < headerLength) {
      return { error: `file ended after ${8 + headerBytes.length} bytes while reading a ${headerLength}-byte header` };
    }
    const json = decodeHeader(headerBytes);
    if (isSafetensorsError(json)) return json;
    return parseHeaderJson(json, headerLength, fileSize);
  } catch (reason) {
    return { error: `cannot read the file: ${describeFailure(reason)}` };
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/** The file's size, or an error saying why it cannot be read as a file. */
async function fileSizeOf(fs: LibraryFileSystem, path: string): Promise<{ size: number; mtimeMs: number } | SafetensorsError> {
  try {
    const stat = await fs.stat(path);
    if (stat.kind !== 'file') return { error: 'not a file' };
    return { size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (reason) {
    return { error: `cannot read the file: ${describeFailure(reason)}` };
  }
}

export async function readSafetensorsHeader(fs: LibraryFileSystem, path: string): Promise<SafetensorsHeader | SafetensorsError> {
  const stat = await fileSizeOf(fs, path);
  if (isSafetensorsError(stat)) return stat;
  return readHeaderOfSize(fs, path, stat.size);
}

/**
 * Headers by path, re-read only when the file's size or mtime changed, so a rescan of a large
 * library costs one stat per file. Errors are cached too: a broken file stays broken until it changes.
 */
/**
 * Headers by path, re-read when size or mtime changed. Bounded: a parsed header of a large
 * LoRA is megabytes of objects, and the catalog keeps only the card of each file.
 */
export class SafetensorsCache {
  private readonly entries = new Map<string, { size: number; mtimeMs: number; header: SafetensorsHeader | SafetensorsError }>();

  constructor(private readonly capacity = 128) {}

  async read(fs: LibraryFileSystem, path: string): Promise<SafetensorsHeader | SafetensorsError> {
    const stat = await fileSizeOf(fs, path);
    if (isSafetensorsError(stat)) {
      this.entries.delete(path);
      return stat;
    }
    const cached = this.entries.get(path);
    if (cached !== undefined && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) {
      // Most recently used goes last; the first key is evicted first.
      this.entries.delete(path);
      this.entries.set(path, cached);
      return cached.header;
    }
    const header = await readHeaderOfSize(fs, path, stat.size);
    this.entries.delete(path);
    this.entries.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, header });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return header;
  }

  delete(path: string): void {
    this.entries.delete(path);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

// ---- tensor values ------------------------------------------------------------------------------

/** IEEE 754 half precision, which DataView cannot read in Node 20. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const SCALAR_BYTES: ReadonlyMap<string, number> = new Map([
  ['F16', 2],
  ['BF16', 2],
  ['F32', 4],
  ['F64', 8],
]);

function decodeScalar(dtype: string, bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F16':
      return halfToNumber(view.getUint16(0, true));
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const widened = new DataView(new ArrayBuffer(4));
      widened.setUint32(0, view.getUint16(0, true) << 16);
      return widened.getFloat32(0);
    }
    case 'F32':
      return view.getFloat32(0, true);
    default:
      return view.getFloat64(0, true);
  }
}

/**
 * The value of a one-element float tensor (kohya's per-module `.alpha`), or undefined when the tensor
 * is missing, not a float, not one element, or its bytes cannot be read.
 */
export async function readScalar(fs: LibraryFileSystem, path: string, header: SafetensorsHeader, tensorName: string): Promise<number | undefined> {
  const tensor = header.tensors.find((t) => t.name === tensorName);
  const width = tensor === undefined ? undefined : SCALAR_BYTES.get(tensor.dtype);
  if (tensor === undefined || width === undefined) return undefined;
  if (tensor.end - tensor.begin !== width || tensor.end > header.dataLength) return undefined;
  try {
    const bytes = await fs.readBytes(path, header.dataStart + tensor.begin, width);
    return bytes.length === width ? decodeScalar(tensor.dtype, bytes) : undefined;
  } catch {
    return undefined;
  }
}

// ---- hashing ------------------------------------------------------------------------------------

const HASH_CHUNK_BYTES = 1024 * 1024;

/**
 * sha256 over everything after the header, as AUTOMATIC1111's `addnet_hash_safetensors` computes it
 * (it hashes to the end of the file, not only the tensors' ranges).
 */
export async function sha256OfData(fs: LibraryFileSystem, path: string, header: SafetensorsHeader): Promise<string | SafetensorsError> {
  const hash = createHash('sha256');
  const end = header.dataStart + header.dataLength;
  try {
    for (let offset = header.dataStart; offset < end; offset += HASH_CHUNK_BYTES) {
      const length = Math.min(HASH_CHUNK_BYTES, end - offset);
      const chunk = await fs.readBytes(path, offset, length);
      if (chunk.length !== length) return { error: `file ended at ${offset + chunk.length} bytes while hashing (expected ${end})` };
      hash.update(chunk);
    }
  } catch (reason) {
    return { error: `cannot read the file: ${describeFailure(reason)}` };
  }
  return hash.digest('hex');
}

/** The first 12 hex digits of `sshs_model_hash`, when the metadata holds a usable one. */
export function storedShortHash(metadata: Record<string, string>): string | undefined {
  const stored = metadata['sshs_model_hash'];
  return stored !== undefined && /^[0-9a-fA-F]{12}/.test(stored) ? stored.slice(0, 12).toLowerCase() : undefined;
}

/**
 * A1111's short hash of a LoRA: the first 12 hex digits of `sshs_model_hash` when the trainer stored
 * one (A1111 trusts it without rehashing), else of the sha256 of the data section.
 * The header was already validated, so the only failure left is the file changing or vanishing while
 * it is hashed: that rejects (with the reason), since there is no hash to return. `sha256OfData`
 * returns the same failure as a value instead.
 */
export async function shortHash(fs: LibraryFileSystem, path: string, header: SafetensorsHeader): Promise<string> {
  const stored = storedShortHash(header.metadata);
  if (stored !== undefined) return stored;
  const full = await sha256OfData(fs, path, header);
  if (isSafetensorsError(full)) throw new Error(`cannot hash ${path}: ${full.error}`);
  return full.slice(0, 12);
}
