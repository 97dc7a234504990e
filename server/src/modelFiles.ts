import { a1111KeyNames } from './render/checkpoint/a1111KeyNames';
import { detectFamily } from './render/checkpoint/familyDetection';
import { architectureFromShapes } from './render/checkpoint/architectureFromShapes';
import { EntryDetails } from './service/library/catalog';
import { LibraryFileSystem } from './service/library/fileSystem';
import { legacyModelHash } from './service/library/modelHashes';
import { SafetensorsCache, SafetensorsTensor } from './service/library/safetensors';

export { fileSha256, webuiHashCache, WebuiHashCache } from './service/library/modelHashes';

/** The float dtype most of a file's tensors have, or `mixed` when no dtype holds nine tenths of them. */
function mainDtype(tensors: readonly SafetensorsTensor[]): string {
  const counts = new Map<string, number>();
  let floats = 0;
  for (const t of tensors) {
    if (!/^(F|BF)\d+$/.test(t.dtype)) continue;
    floats++;
    counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
  }
  const [top] = [...counts].sort((a, b) => b[1] - a[1]);
  return top && top[1] >= floats * 0.9 ? top[0] : floats === 0 ? 'none' : 'mixed';
}

/**
 * The scan's look at a checkpoint or VAE file (the catalog's `describe`): its header's family, whether the
 * renderer can run it and why not, its dtype, and A1111's legacy hash. Pickles are never opened (the catalog
 * does not describe them). The family test is the renderer's own (render/checkpoint), so the editor and the
 * render agree on what a file is.
 */
export async function describeModelFile(fs: LibraryFileSystem, path: string, kind: 'checkpoint' | 'vae', headers: SafetensorsCache): Promise<EntryDetails> {
  const header = await headers.read(fs, path);
  if ('error' in header) return { error: header.error };
  const legacyHash = await legacyModelHash(fs, path);
  const dtype = mainDtype(header.tensors);
  // A1111's key renames first (old SD1 files without `text_model.`, SD 2.1 Turbo), as the renderer loads them.
  const tensors = a1111KeyNames(new Map(header.tensors.map((t) => [t.name, t])));
  if (kind === 'vae') {
    const decoder = header.tensors.some((t) => /^(first_stage_model\.)?decoder\.conv_in\.weight$/.test(t.name));
    return decoder
      ? { model: { family: 'vae', renderable: true, dtype, legacyHash } }
      : { model: { family: 'vae', renderable: false, problem: `${path} has no VAE decoder (no decoder.conv_in.weight)`, dtype, legacyHash } };
  }
  try {
    const family = detectFamily(path, tensors);
    architectureFromShapes(path, tensors, family);
    return { model: { family, renderable: true, dtype, legacyHash } };
  } catch (e) {
    return { model: { family: 'other', renderable: false, problem: (e as Error).message, dtype, legacyHash } };
  }
}
