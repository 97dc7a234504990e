import { createHash } from 'crypto';
import type { CatalogEntry } from './catalog';
import { checkpointNames } from './checkpoints';
import { joinPath, LibraryFileSystem } from './fileSystem';

/** Bytes read at a time while hashing a whole file (multi-GB checkpoints): large reads, bounded memory. */
const HASH_CHUNK = 8 * 1024 * 1024;

/**
 * A1111's legacy "model hash" (`sd_models.model_hash`): sha256 of the 64 KiB at offset 1 MiB, first 8 hex
 * digits. A file shorter than that hashes what is there (possibly nothing), as A1111's `file.read` does.
 */
export async function legacyModelHash(fs: LibraryFileSystem, path: string): Promise<string> {
  const bytes = await fs.readBytes(path, 0x100000, 0x10000);
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

/** The sha256 of a whole file (A1111's `hashes.sha256`), read in large pieces. */
export async function fileSha256(fs: LibraryFileSystem, path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const file = fs.open ? await fs.open(path) : undefined;
  try {
    for (let offset = 0; offset < size; offset += HASH_CHUNK) {
      const length = Math.min(HASH_CHUNK, size - offset);
      const chunk = file ? await file.read(offset, length) : await fs.readBytes(path, offset, length);
      if (chunk.length !== length) throw new Error(`${path} ended at ${offset + chunk.length} bytes while hashing (expected ${size}): it changed on disk`);
      hash.update(chunk);
    }
  } finally {
    await file?.close();
  }
  return hash.digest('hex');
}

/** The sha256s A1111 already computed, from its `cache.json` (read-only: the user's files are never written). */
export interface WebuiHashCache {
  /** The checkpoint's sha256 when A1111 hashed this version of it (its cache entry is not older than the file). */
  sha256(entry: CatalogEntry): string | undefined;
}

/**
 * Reads `<webui>/cache.json` (`{"hashes": {"checkpoint/NAME": {"mtime": seconds, "sha256": hex}}}`), which A1111
 * fills as it hashes files; an entry counts while the file is not newer than it (`hashes.sha256_from_cache`).
 * A missing or broken cache is an empty one.
 */
export async function webuiHashCache(fs: LibraryFileSystem, webuiPath: string): Promise<WebuiHashCache> {
  let hashes: Record<string, { mtime?: unknown; sha256?: unknown }> = {};
  try {
    const parsed = JSON.parse(await fs.readText(joinPath(webuiPath.replace(/[\\/]+$/, ''), 'cache.json')));
    if (parsed && typeof parsed.hashes === 'object' && parsed.hashes !== null) hashes = parsed.hashes;
  } catch {
    // no cache (a fresh webui, or Forge's newer cache folder): everything is hashed here
  }
  return {
    sha256(entry) {
      const { name } = checkpointNames(entry);
      // A1111 keys the cache by its name for the file, with the OS's separator.
      const record = hashes[`checkpoint/${name}`] ?? hashes[`checkpoint/${name.replace(/\//g, '\\')}`];
      if (!record || typeof record.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.sha256)) return undefined;
      const cachedMtime = typeof record.mtime === 'number' ? record.mtime : 0;
      return entry.mtimeMs / 1000 > cachedMtime ? undefined : record.sha256;
    },
  };
}
