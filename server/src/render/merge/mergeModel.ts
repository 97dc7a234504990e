import { LORA_MERGE_NONFINITE, LoraMergeReport } from '../../../../common/src/mergeReport';
import { LoraComponent } from '../lora/loraKeys';
import { MergeContext, mergeIntoGraph, MergedGraph } from './merge';
import { PreparedLoras } from '../lora/prepare';

/**
 * The graphs of a model folder a LoRA merge reads (a ModelGraphs is one): the text encoders, merged
 * with `te`, and the UNet, merged with `unet`.
 */
export interface MergeTargets {
  textEncoder: string;
  textEncoder2?: string;
  unet: string;
}

/**
 * Merges the prepared LoRAs into every component of the model they touch (text encoders with
 * `te`, the UNet with `unet`), and reports per LoRA over all components.
 */
export async function mergeModel(folder: MergeTargets, prepared: PreparedLoras, context: MergeContext): Promise<{ merged: Map<string, MergedGraph>; loras: LoraMergeReport[] }> {
  const components: [LoraComponent, string | undefined][] = [
    ['text_encoder', folder.textEncoder],
    ['text_encoder_2', folder.textEncoder2],
    ['unet', folder.unet],
  ];
  // A LoRA refused in one graph (its weight change overflows) must be in none: the graphs are merged
  // again without it. Rare, and the other LoRAs' deltas are kept (DeltaCache), so it costs little.
  const refused = new Map<string, string>();
  for (;;) {
    const inputs = prepared.inputs.filter((l) => !refused.has(l.name));
    const reports = new Map<string, LoraMergeReport>(
      inputs.map((l) => [l.name, { name: l.name, file: l.path, te: l.te, unet: l.unet, ...(l.dyn !== undefined ? { dyn: l.dyn } : {}), matched: 0, unmatched: [...l.unmatchedKeys], mismatched: [] }]),
    );
    const merged = new Map<string, MergedGraph>();
    let again = false;
    for (const [component, file] of components) {
      if (!file || !inputs.some((l) => l.modules.some((m) => m.component === component))) continue;
      const result = await mergeIntoGraph(file, component, inputs, context);
      const newlyRefused = result.reports.filter((r) => r.refused !== undefined);
      if (newlyRefused.length) {
        for (const r of newlyRefused) refused.set(r.name, r.refused!);
        again = true;
        break;
      }
      // Nothing to patch (every multiplier 0, or nothing matched): the graph is used as it is.
      if (result.patches.length) merged.set(file, result);
      for (const r of result.reports) {
        const report = reports.get(r.name)!;
        report.matched += r.matched;
        report.unmatched.push(...r.unmatched.map((m) => `${component}:${m}`));
        report.mismatched.push(...r.mismatched);
      }
    }
    if (again) continue;
    const overflowed = prepared.inputs
      .filter((l) => refused.has(l.name))
      .map((l) => ({ name: l.name, file: l.path, te: l.te, unet: l.unet, matched: 0, unmatched: [], mismatched: [], error: refused.get(l.name), code: LORA_MERGE_NONFINITE }));
    const failed = prepared.problems.map((p) => ({ name: p.name, file: p.path, te: 0, unet: 0, matched: 0, unmatched: [], mismatched: [], error: p.error, ...(p.code ? { code: p.code } : {}) }));
    return { merged, loras: [...reports.values(), ...overflowed, ...failed] };
  }
}
