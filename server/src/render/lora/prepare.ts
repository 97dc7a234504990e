import { NodeFileSystem } from '../../node/nodeFileSystem';
import { isLoraKeyMapError, mapLoraKeys } from './loraKeys';
import { readLoraTensors, resolveModule } from './loraTensors';
import { LORA_MERGE_NONFINITE } from '../../../../common/src/mergeReport';
import type { LoraModule } from './loraKeys';
import type { LoraTensor } from './loraTensors';
import { nonFiniteTensor } from './nonFinite';

/** A LoRA the prompt asks for: its file and the multipliers its tag resolves to. */
export interface LoraSpec {
  name: string;
  path: string;
  te: number;
  unet: number;
  /** A1111's `dyn` from the tag: only the first `dyn` ranks of each plain LoRA module. */
  dyn?: number;
}

/** One LoRA as a merge takes it: its modules with their tensors and the tag's multipliers. */
export interface LoraInput {
  name: string;
  /** Identifies the file's contents for the delta cache (path, size, mtime); `name` when absent. */
  id?: string;
  /** Modules with their tensors resolved (loraKeys + loraTensors). */
  modules: LoraModule<LoraTensor>[];
  /** The tag's multipliers: te for the text encoders, unet for the UNet. */
  te: number;
  unet: number;
  /** A1111's `dyn`: only the first `dyn` ranks of plain LoRA modules. */
  dyn?: number;
}

export interface PreparedLoras {
  inputs: (LoraInput & { path: string; unmatchedKeys: string[] })[];
  /** LoRAs that cannot be merged at all, with why (a refused format, an unreadable file). */
  problems: { name: string; path: string; error: string; code?: string }[];
}

/** Reads each LoRA's tensors and maps its keys onto module paths; never throws for a bad file. */
export async function prepareLoras(specs: LoraSpec[]): Promise<PreparedLoras> {
  const fs = new NodeFileSystem();
  const out: PreparedLoras = { inputs: [], problems: [] };
  for (const spec of specs) {
    const read = await readLoraTensors(fs, spec.path);
    if ('error' in read) {
      out.problems.push({ name: spec.name, path: spec.path, error: read.error });
      continue;
    }
    const keys = mapLoraKeys(read.tensors.keys());
    if (isLoraKeyMapError(keys)) {
      out.problems.push({ name: spec.name, path: spec.path, error: keys.error });
      continue;
    }
    const modules = [];
    const unmatchedKeys = keys.unmatched.map((u) => `${u.key} (${u.reason})`);
    let nonFinite: string | undefined;
    for (const m of keys.modules) {
      const resolved = resolveModule(m, read.tensors);
      if ('error' in resolved) unmatchedKeys.push(`${m.module}: ${resolved.error}`);
      else {
        modules.push(resolved);
        nonFinite ??= nonFiniteTensor(resolved, m.tensors);
      }
    }
    if (nonFinite !== undefined) {
      // Refused as a whole: half a LoRA is not what the prompt asked for either.
      out.problems.push({ name: spec.name, path: spec.path, error: nonFinite, code: LORA_MERGE_NONFINITE });
      continue;
    }
    // The delta cache must not serve a file's old deltas after it was replaced.
    const stat = await fs.stat(spec.path).catch(() => undefined);
    const id = `${spec.path}|${stat?.size ?? ''}|${stat?.mtimeMs ?? ''}`;
    out.inputs.push({ name: spec.name, id, path: spec.path, te: spec.te, unet: spec.unet, dyn: spec.dyn, modules, unmatchedKeys });
  }
  return out;
}
