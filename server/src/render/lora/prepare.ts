import { NodeFileSystem } from '../../node/nodeFileSystem';
import { isLoraKeyMapError, mapLoraKeys } from './loraKeys';
import { readLoraTensors, resolveModule } from './loraTensors';
import { LoraInput } from '../merge/merge';

/** A LoRA the prompt asks for: its file and the multipliers its tag resolves to. */
export interface LoraSpec {
  name: string;
  path: string;
  te: number;
  unet: number;
}

export interface PreparedLoras {
  inputs: (LoraInput & { path: string; unmatchedKeys: string[] })[];
  /** LoRAs that cannot be merged at all, with why (a refused format, an unreadable file). */
  problems: { name: string; path: string; error: string }[];
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
    for (const m of keys.modules) {
      const resolved = resolveModule(m, read.tensors);
      if ('error' in resolved) unmatchedKeys.push(`${m.module}: ${resolved.error}`);
      else modules.push(resolved);
    }
    // The delta cache must not serve a file's old deltas after it was replaced.
    const stat = await fs.stat(spec.path).catch(() => undefined);
    const id = `${spec.path}|${stat?.size ?? ''}|${stat?.mtimeMs ?? ''}`;
    out.inputs.push({ name: spec.name, id, path: spec.path, te: spec.te, unet: spec.unet, modules, unmatchedKeys });
  }
  return out;
}
