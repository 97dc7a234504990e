import { PipelineComponent, WeightRef, WeightSource } from '../sdGraphs/architecture';
import { CheckpointWeights } from './checkpointWeights';
import { LdmTableEntry } from './ldmKeyTable';

/** A pipeline's weights from more than one file (a checkpoint and the VAE chosen for it), each component from one. */
export class CombinedWeights implements WeightSource {
  private readonly byComponent = new Map<PipelineComponent, CheckpointWeights>();

  constructor(readonly parts: readonly CheckpointWeights[]) {
    for (const part of parts) for (const entry of part.table) this.byComponent.set(entry.component, part);
  }

  get table(): LdmTableEntry[] {
    return this.parts.flatMap((p) => p.table);
  }

  names(component: PipelineComponent): string[] {
    return this.byComponent.get(component)?.names(component) ?? [];
  }

  weight(component: PipelineComponent, name: string): WeightRef {
    const part = this.byComponent.get(component);
    if (part === undefined) throw new Error(`no ${component} in this pipeline`);
    return part.weight(component, name);
  }
}
