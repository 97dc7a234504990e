import * as fs from 'fs';
import * as path from 'path';
import type { LoraMergeReport } from '../../../common/src/mergeReport';
import { legacyModelHash, loadCheckpoint, openCheckpointFile, sha256OfFile } from '../render/checkpoint';
import { convertCheckpoint } from '../render/checkpoint/convertCheckpoint';
import { writePatchedCopy } from '../render/checkpoint/safetensorsWriter';
import { planCheckpointMerge } from '../render/merge/checkpointMerge';
import { LoraMerger } from '../render/merge/loraMerger';
import { sidecarVae } from '../render/model/checkpointModel';
import { prepareLoras } from '../render/lora/prepare';
import { failure } from './convert';
import type { MergeOptions } from './merge';
import { OutputError, StagedFile, StagedFolder } from './stagedOutput';

/**
 * `sd-prompt merge --model CKPT`: LoRAs baked into an A1111 single-file checkpoint, written as
 * - `--out FILE.safetensors`: a new checkpoint with the same keys, dtypes, shapes and tensor order; every tensor a
 *   LoRA does not touch is copied byte for byte, the patched ones are W + ΔW rounded into their own dtype (the
 *   render's merge, so the file renders what `<lora:...>` on the source renders); the source's metadata is kept,
 *   with `sd_merge_recipe` / `sd_merge_models` as A1111's checkpoint merger writes them (the recipe says what
 *   was merged, `type: "sd-prompt"`, which is also what lets --force replace the file later);
 * - `--out DIR`: a diffusers ONNX folder, as `sd-prompt convert` writes it, with the merged weights.
 * Both are staged (nothing half-written on failure or Ctrl-C), and the source is only read.
 */

/** What the merge recipe's `type` is: A1111's merger writes "webui". */
export const RECIPE_TYPE = 'sd-prompt';

/** `--model` names a checkpoint file (or a checkpoint-like name that does not exist, which fails as a checkpoint would). */
export function isCheckpointModel(model: string): boolean {
  try {
    return fs.statSync(model).isFile();
  } catch {
    return /\.(safetensors|ckpt|pt|pth|bin)$/i.test(model);
  }
}

export async function runCheckpointMerge(
  o: MergeOptions,
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
): Promise<{ loras: LoraMergeReport[]; target: string } | { loras: LoraMergeReport[]; target: undefined }> {
  const checkpoint = path.resolve(o.model);
  const vae = sidecarVae(checkpoint);
  // The checkpoint is checked (header, family, every weight) before anything is written.
  const loaded = await loadCheckpoint(checkpoint, vae ? { vae } : {});
  if (/\.safetensors$/i.test(o.out)) {
    const staged = await stageFile(o, checkpoint);
    let release: (() => Promise<void>) | undefined;
    try {
      const { loras, compute, ...planned } = await plan(o, checkpoint);
      release = planned.release;
      if (loras.some((l) => l.error)) {
        staged.abandon();
        return { loras, target: undefined };
      }
      const loraHashes = await Promise.all(o.loras.map((l) => sha256OfFile(l.path)));
      const legacy = await legacyModelHash(checkpoint);
      await writePatchedCopy({
        source: checkpoint,
        out: staged.staging,
        metadata: (source, sha256) => mergedMetadata(source, { sha256, legacy, name: path.basename(checkpoint).replace(/\.safetensors$/i, ''), out: o.out, loras, loraHashes }),
        patches: (write) => compute((patch, bytes, at) => write(patch.offset - loaded.file.dataStart + at, bytes)),
      });
      staged.commitWritten();
      return { loras, target: staged.target };
    } catch (e) {
      staged.abandon();
      throw failure(e, o.out);
    } finally {
      await release?.();
    }
  }
  const staged = StagedFolder.create(o.out, { force: o.force, source: checkpoint, loras: o.loras.map((l) => l.path) });
  let release: (() => Promise<void>) | undefined;
  try {
    const { loras, patches, compute, ...planned } = await plan(o, checkpoint);
    release = planned.release;
    if (loras.some((l) => l.error)) {
      staged.abandon();
      return { loras, target: undefined };
    }
    // The patched weights go to a scratch file in the staging folder, from which the conversion reads them.
    const scratch = path.join(staged.staging, '.merged-weights.bin');
    const at = new Map<string, number>();
    const fd = fs.openSync(scratch, 'w');
    try {
      let end = 0;
      await compute((patch, bytes, offset) => {
        const key = rangeKey(patch.offset, patch.length);
        if (offset === 0) {
          at.set(key, end);
          end += patch.length;
        }
        const base = at.get(key)!;
        for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, base + offset + done);
      });
    } finally {
      fs.closeSync(fd);
    }
    const used = new Set<string>();
    const real = fs.realpathSync(checkpoint);
    await convertCheckpoint(checkpoint, staged.staging, {
      ...(vae ? { vae } : {}),
      overlay: {
        find(file, offset, length) {
          const key = rangeKey(offset, length);
          const where = file === real ? at.get(key) : undefined;
          if (where === undefined) return undefined;
          used.add(key);
          return { file: scratch, offset: where };
        },
      },
    });
    fs.rmSync(scratch);
    if (used.size !== patches.length) throw new Error(`${patches.length - used.size} merged weights found no place in the converted graphs`);
    staged.commit({ source: checkpoint, loras: loras.map((l) => ({ name: l.name, file: l.file, te: l.te, unet: l.unet, ...(l.dyn !== undefined ? { dyn: l.dyn } : {}), matched: l.matched })) });
    return { loras, target: staged.target };
  } catch (e) {
    staged.abandon();
    throw failure(e, o.out);
  } finally {
    await release?.();
  }
}

function rangeKey(offset: number, length: number): string {
  return `${offset}:${length}`;
}

/** The merge worked out, its weights computed on demand; `release` gives back the merger's threads. */
async function plan(o: MergeOptions, checkpoint: string) {
  const prepared = await prepareLoras(o.loras);
  const merger = new LoraMerger(require('onnxruntime-node'), 'cpu');
  try {
    const planned = await planCheckpointMerge(checkpoint, prepared, merger);
    return { loras: planned.loras, patches: planned.patches, compute: planned.compute, release: () => merger.release() };
  } catch (e) {
    await merger.release();
    throw e;
  }
}

/**
 * `--out FILE.safetensors` checked before any work: never the source or a LoRA, and an existing file is replaced
 * only with --force and only if an earlier sd-prompt merge wrote it (its recipe says so); a user's own
 * checkpoint is never overwritten.
 */
async function stageFile(o: MergeOptions, checkpoint: string): Promise<StagedFile> {
  const keep = [{ path: checkpoint, what: 'the source checkpoint (it is never written)' }, ...o.loras.map((l) => ({ path: l.path, what: `the LoRA ${l.name}` }))];
  for (const k of keep) {
    if (fs.existsSync(o.out) && fs.realpathSync(o.out) === fs.realpathSync(k.path)) throw new OutputError(`--out ${o.out} is ${k.what}: choose another file name`);
  }
  if (fs.existsSync(o.out) && fs.statSync(o.out).isFile()) {
    if (!o.force) throw new OutputError(`${o.out} already exists: pass --force to replace it (--force replaces only a checkpoint an earlier sd-prompt merge wrote)`);
    if (!(await writtenByMerge(o.out))) {
      throw new OutputError(`${o.out} was not written by sd-prompt merge (its metadata has no sd_merge_recipe of type "${RECIPE_TYPE}"): --force replaces only an earlier merge's output. Choose a new file name, or remove this one yourself.`);
    }
  }
  return StagedFile.create(o.out, keep);
}

async function writtenByMerge(file: string): Promise<boolean> {
  try {
    const recipe = (await openCheckpointFile(file)).metadata.sd_merge_recipe;
    return JSON.parse(recipe)?.type === RECIPE_TYPE;
  } catch {
    return false;
  }
}

/**
 * The source's metadata, plus A1111's merger keys: `sd_merge_recipe` (what this merge did) and `sd_merge_models`
 * (each model merged by sha256, with its name, legacy hash and own recipe, and the models it was merged from).
 */
export function mergedMetadata(
  source: Record<string, string>,
  m: { sha256: string; legacy: string; name: string; out: string; loras: LoraMergeReport[]; loraHashes: string[] },
): Record<string, string> {
  const parsed = (text: string | undefined): unknown => {
    if (text === undefined) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
  const recipe = {
    type: RECIPE_TYPE,
    merge_method: 'lora',
    primary_model_hash: m.sha256,
    loras: m.loras.map((l, i) => ({ name: l.name, file: path.basename(l.file), sha256: m.loraHashes[i], te: l.te, unet: l.unet, ...(l.dyn !== undefined ? { dyn: l.dyn } : {}), matched: l.matched })),
    output_name: path.basename(m.out).replace(/\.safetensors$/i, ''),
  };
  const earlier = parsed(source.sd_merge_models);
  const models = {
    [m.sha256]: { name: m.name, legacy_hash: m.legacy, sd_merge_recipe: parsed(source.sd_merge_recipe) },
    ...(earlier && typeof earlier === 'object' ? (earlier as Record<string, unknown>) : {}),
  };
  return { ...source, sd_merge_recipe: JSON.stringify(recipe), sd_merge_models: JSON.stringify(models) };
}
