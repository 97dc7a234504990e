import * as crypto from 'crypto';
import * as fs from 'fs';
import { CheckpointError } from './checkpointError';

/**
 * A copy of a safetensors file with some tensors' bytes replaced and its `__metadata__` changed: the new A1111
 * checkpoint `sd-prompt merge --model CKPT --out FILE.safetensors` writes. Every tensor keeps its key, dtype,
 * shape and place in the data section (offsets are relative to the data section, so a longer header moves
 * nothing), and the header keeps the source's key order. The data section is streamed in 8 MiB blocks (a 7 GB
 * SDXL file is never in memory), hashed on the way (the source's sha256 goes into the metadata, which is written
 * last: the hash has a fixed length, so the header's length is known before it is).
 */

const BLOCK = 8 << 20;
/** Stands for the source's sha256 until the copy has read all of it (64 hex digits, as the hash will be). */
const HASH_PLACEHOLDER = '0'.repeat(64);

export interface PatchedCopy {
  source: string;
  /** Where to write (a staging path: the caller renames it into place). */
  out: string;
  /** The output's metadata from the source's and the source file's sha256. */
  metadata: (sourceMetadata: Record<string, string>, sourceSha256: string) => Record<string, string>;
  /** Writes the replaced bytes through `write` (`dataOffset` relative to the data section), after the copy. */
  patches: (write: (dataOffset: number, bytes: Uint8Array) => void) => Promise<void>;
}

export interface PatchedCopyResult {
  sourceSha256: string;
  bytes: number;
  metadata: Record<string, string>;
}

export async function writePatchedCopy(copy: PatchedCopy): Promise<PatchedCopyResult> {
  const src = fs.openSync(copy.source, 'r');
  let out: number | undefined;
  try {
    const before = fs.fstatSync(src);
    const prefix = readExactly(src, 0, 8, copy.source);
    const headerLength = Number(Buffer.from(prefix).readBigUInt64LE(0));
    const headerBytes = readExactly(src, 8, headerLength, copy.source);
    const header = JSON.parse(Buffer.from(headerBytes).toString('utf8')) as Record<string, unknown>;
    const sourceMetadata = (header.__metadata__ ?? {}) as Record<string, string>;
    const encode = (sha256: string) => encodeHeader(header, copy.metadata(sourceMetadata, sha256));
    const provisional = encode(HASH_PLACEHOLDER);
    const srcData = 8 + headerLength;
    const outData = 8 + provisional.length;
    out = fs.openSync(copy.out, 'w');
    writeAt(out, lengthPrefix(provisional.length), 0);
    writeAt(out, provisional, 8);
    const hash = crypto.createHash('sha256').update(prefix).update(headerBytes);
    const block = new Uint8Array(BLOCK);
    for (let at = srcData; at < before.size; ) {
      const n = Math.min(BLOCK, before.size - at);
      const chunk = readExactly(src, at, n, copy.source, block);
      hash.update(chunk);
      writeAt(out, chunk, outData + (at - srcData));
      at += n;
    }
    const target = out;
    await copy.patches((dataOffset, bytes) => writeAt(target, bytes, outData + dataOffset));
    const sourceSha256 = hash.digest('hex');
    const metadata = copy.metadata(sourceMetadata, sourceSha256);
    const final = encodeHeader(header, metadata);
    if (final.length !== provisional.length) throw new Error(`the header's length changed from ${provisional.length} to ${final.length} bytes`);
    writeAt(out, final, 8);
    const after = fs.fstatSync(src);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new CheckpointError('changed-on-disk', `${copy.source} changed on disk while it was copied: nothing was written; run the merge again`);
    }
    return { sourceSha256, bytes: outData + (before.size - srcData), metadata };
  } finally {
    fs.closeSync(src);
    if (out !== undefined) fs.closeSync(out);
  }
}

/** The header JSON with new metadata (where the source had it, else first, as safetensors writes it), padded with spaces to 8 bytes. */
function encodeHeader(header: Record<string, unknown>, metadata: Record<string, string>): Uint8Array {
  const entries = Object.entries(header);
  const has = entries.some(([k]) => k === '__metadata__');
  const ordered = has ? entries.map(([k, v]) => [k, k === '__metadata__' ? metadata : v]) : [['__metadata__', metadata], ...entries];
  const json = Buffer.from(JSON.stringify(Object.fromEntries(ordered)), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  return padded;
}

function lengthPrefix(n: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function readExactly(fd: number, offset: number, length: number, file: string, into?: Uint8Array): Uint8Array {
  const buf = into ? into.subarray(0, length) : new Uint8Array(length);
  for (let at = 0; at < length; ) {
    const n = fs.readSync(fd, buf, at, length - at, offset + at);
    if (n === 0) throw new CheckpointError('changed-on-disk', `${file} ended at byte ${offset + at} while it was copied: it changed on disk`);
    at += n;
  }
  return buf;
}

function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at, position + at);
}
