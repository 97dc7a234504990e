import { createHash } from 'crypto';
import { createReadStream, promises as fsp } from 'fs';

/**
 * A1111's two names for a checkpoint's contents, as `Model hash:` in generation data carries them:
 * - the short hash (A1111 ≥ 1.0, modules/hashes.py): the first 10 hex digits of the whole file's sha256;
 * - the legacy model hash (modules/sd_models.model_hash): sha256 of the 64 KiB at offset 0x100000, first 8 hex
 *   (a file shorter than that hashes what is there, as Python's read does).
 * The file is streamed in 4 MiB pieces: multi-GB checkpoints are never held in memory.
 */

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(file, { highWaterMark: 4 * 1024 * 1024 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function a1111ShortHash(file: string): Promise<string> {
  return (await sha256OfFile(file)).slice(0, 10);
}

export async function legacyModelHash(file: string): Promise<string> {
  const handle = await fsp.open(file, 'r');
  try {
    const bytes = Buffer.alloc(0x10000);
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0x100000);
    return createHash('sha256').update(bytes.subarray(0, bytesRead)).digest('hex').slice(0, 8);
  } finally {
    await handle.close();
  }
}
