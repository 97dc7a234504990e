import * as fs from 'fs';
import type { LoraMergeReport } from '../../../../common/src/mergeReport';
import type { PreparedLoras } from '../lora/prepare';
import { openCheckpointModel } from '../model/checkpointModel';
import type { LoraMerger } from './loraMerger';

/**
 * A LoRA merge into a single-file checkpoint, as byte ranges of the checkpoint: the merge is the one the
 * renderer does for `<lora:...>` on a checkpoint (LoraMerger over the checkpoint's graphs, whose initializers
 * are external data at the checkpoint's own offsets), so each patched weight is a range of the file, and its
 * new bytes are in the file's own dtype, rounded as a render rounds them. Writers then put those bytes where
 * that range goes: into a copy of the checkpoint (safetensorsWriter.ts) or a converted folder's data files.
 */

/** A range of the checkpoint file a merge replaces. */
export interface CheckpointPatch {
  /** Absolute byte offset in the checkpoint file. */
  offset: number;
  length: number;
  /** The graph's weight it is (a diffusers name), for messages. */
  weight: string;
}

export interface CheckpointMergePlan {
  /** The checkpoint's real path. */
  checkpoint: string;
  loras: LoraMergeReport[];
  patches: CheckpointPatch[];
  /**
   * Computes the new bytes, a block at a time, each patch's from byte 0 in order; `bytes` are valid until
   * `sink` returns. The merger that planned this must live until it settles.
   */
  compute(sink: (patch: CheckpointPatch, bytes: Uint8Array, at: number) => void | Promise<void>): Promise<void>;
}

export async function planCheckpointMerge(checkpoint: string, prepared: PreparedLoras, merger: LoraMerger, options: { cacheRoot?: string } = {}): Promise<CheckpointMergePlan> {
  const real = fs.realpathSync(checkpoint);
  const model = await openCheckpointModel(checkpoint, options.cacheRoot ? { cacheRoot: options.cacheRoot } : {});
  const plan = await merger.plan(model, prepared);
  const graphs: { compute: (sink: (name: string, bytes: Uint8Array, at: number) => void | Promise<void>) => Promise<void>; ranges: Map<string, CheckpointPatch> }[] = [];
  const patches: CheckpointPatch[] = [];
  for (const merged of plan.merged.values()) {
    const byName = new Map(merged.initializers.map((i) => [i.name, i]));
    const ranges = new Map<string, CheckpointPatch>();
    for (const p of merged.patches) {
      const init = byName.get(p.copyOf ?? p.initializer);
      const loc = init?.location;
      // Every weight a LoRA patches is one of the checkpoint's tensors (or a row range of one); anything else
      // (a weight rebuilt in memory, one from a separate VAE file) has no place in the checkpoint to go to.
      if (p.copyOf !== undefined || loc?.kind !== 'external' || fs.realpathSync(loc.file) !== real || loc.length !== p.length) {
        throw new Error(`${checkpoint}: the merged weight ${p.initializer} is not stored in the checkpoint as a range of its own, so it cannot be written back`);
      }
      const patch = { offset: loc.offset, length: loc.length, weight: p.initializer };
      ranges.set(p.initializer, patch);
      patches.push(patch);
    }
    graphs.push({ compute: (sink) => merged.compute((p, bytes, at) => sink(p.initializer, bytes, at)), ranges });
  }
  return {
    checkpoint: real,
    loras: plan.loras,
    patches,
    async compute(sink) {
      for (const g of graphs) await g.compute((name, bytes, at) => sink(g.ranges.get(name)!, bytes, at));
    },
  };
}
