import { promises as fsp } from 'fs';
import * as path from 'path';
import {
  decodeHeader,
  isSafetensorsError,
  parseHeaderJson,
  parseHeaderLength,
  SafetensorsTensor,
} from '../../service/library/safetensors';
import { CheckpointError } from './checkpointError';

/**
 * Opening a single-file checkpoint: the safetensors header only, validated before anything trusts it (length
 * bounded at 100 MB, every tensor's range inside the file, no overlaps, sizes that match shape × dtype: the
 * library's parser). Tensor data is never read here. PyTorch pickles (`.ckpt`, `.pt`) are refused without being
 * opened as pickles: unpickling runs code from the file.
 */
export interface CheckpointFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** Absolute offset of the data section: tensor `begin`/`end` are relative to it. */
  dataStart: number;
  metadata: Record<string, string>;
  tensors: ReadonlyMap<string, SafetensorsTensor>;
}

const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.pkl', '.bin']);

function pickleError(file: string): CheckpointError {
  return new CheckpointError(
    'pickle',
    `${file} is a PyTorch pickle checkpoint: sd-prompt never loads pickles (loading one runs code stored in it). ` +
      'Use the .safetensors version of this model (most model pages offer one).',
  );
}

/** torch.save's zip container ('PK\x03\x04') or a raw pickle stream (PROTO opcode 0x80, protocol 2-5). */
function looksLikePickle(prefix: Uint8Array): boolean {
  if (prefix.length >= 4 && prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04) return true;
  return prefix.length >= 2 && prefix[0] === 0x80 && prefix[1] >= 2 && prefix[1] <= 5;
}

function describe(reason: unknown): string {
  const code = (reason as NodeJS.ErrnoException)?.code;
  return code ?? (reason instanceof Error ? reason.message : String(reason));
}

async function readAt(handle: fsp.FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

export async function openCheckpointFile(file: string): Promise<CheckpointFile> {
  if (PICKLE_EXTENSIONS.has(path.extname(file).toLowerCase())) throw pickleError(file);
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (reason) {
    throw new CheckpointError('unreadable', `cannot read ${file}: ${describe(reason)}`);
  }
  if (!stat.isFile()) throw new CheckpointError('not-a-file', `${file} is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}, not a checkpoint file`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (reason) {
    throw new CheckpointError('unreadable', `cannot read ${file}: ${describe(reason)}`);
  }
  try {
    const prefix = await readAt(handle, 0, Math.min(8, stat.size));
    if (looksLikePickle(prefix)) throw pickleError(file);
    const headerLength = parseHeaderLength(prefix, stat.size);
    if (isSafetensorsError(headerLength)) {
      const truncated = stat.size < 8 || headerLength.error.includes('beyond the end of the file');
      throw new CheckpointError(
        truncated ? 'truncated' : 'not-safetensors',
        truncated
          ? `${file} is truncated (${stat.size} bytes): ${headerLength.error}. The download may have stopped early: download it again.`
          : `${file} is not a safetensors file: ${headerLength.error}`,
      );
    }
    const headerBytes = await readAt(handle, 8, headerLength);
    if (headerBytes.length < headerLength) {
      throw new CheckpointError('truncated', `${file} ended after ${8 + headerBytes.length} bytes while reading its ${headerLength}-byte header`);
    }
    const json = decodeHeader(headerBytes);
    if (isSafetensorsError(json)) throw new CheckpointError('not-safetensors', `${file} is not a safetensors file: ${json.error}`);
    const header = parseHeaderJson(json, headerLength, stat.size);
    if (isSafetensorsError(header)) {
      if (header.error.includes('beyond the data section')) {
        throw new CheckpointError(
          'truncated',
          `${file} is shorter than its header says (${stat.size} bytes): ${header.error}. The download may have stopped early: download it again.`,
        );
      }
      throw new CheckpointError('bad-header', `${file} has a damaged safetensors header: ${header.error}`);
    }
    return {
      path: file,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      dataStart: header.dataStart,
      metadata: header.metadata,
      tensors: new Map(header.tensors.map((t) => [t.name, t])),
    };
  } catch (reason) {
    if (reason instanceof CheckpointError) throw reason;
    throw new CheckpointError('unreadable', `cannot read ${file}: ${describe(reason)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Throws when the file is not the one that was opened (size or mtime changed): its offsets no longer hold. */
export async function assertUnchanged(checkpoint: CheckpointFile): Promise<void> {
  let stat;
  try {
    stat = await fsp.stat(checkpoint.path);
  } catch (reason) {
    throw new CheckpointError('changed-on-disk', `${checkpoint.path} went away while in use: ${describe(reason)}`);
  }
  if (stat.size !== checkpoint.size || stat.mtimeMs !== checkpoint.mtimeMs) {
    throw new CheckpointError(
      'changed-on-disk',
      `${checkpoint.path} changed on disk while in use (size ${checkpoint.size} → ${stat.size} bytes): load it again`,
    );
  }
}
