import * as fs from 'fs';
import { NodeFileSystem } from '../../node/nodeFileSystem';
import { fileSha256, legacyModelHash as legacyHashOf } from '../../service/library/modelHashes';

/**
 * A1111's two names for a checkpoint's contents, as `Model hash:` in generation data carries them, for a file on
 * disk: the short hash (A1111 >= 1.0, modules/hashes.py: the first 10 hex digits of the whole file's sha256) and
 * the legacy model hash (sd_models.model_hash). The hashing itself is the library's (service/library/modelHashes.ts),
 * which the editor's checkpoint catalog uses too, so the CLI, the renderer and the editor cannot disagree.
 */
const disk = new NodeFileSystem();

export async function sha256OfFile(file: string): Promise<string> {
  return fileSha256(disk, file, (await fs.promises.stat(file)).size);
}

export async function a1111ShortHash(file: string): Promise<string> {
  return (await sha256OfFile(file)).slice(0, 10);
}

export async function legacyModelHash(file: string): Promise<string> {
  return legacyHashOf(disk, file);
}
