import { parsePromptDocument } from '../syntax/document';
import type { GridCellPlan } from './gridTypes';
import { parameterValue, readPromptFile } from './promptFileParts';

/**
 * The order the cells run in. A1111 runs its costliest axis outermost (Checkpoint name 1.0, VAE 0.7, the rest 0)
 * and otherwise z, y, x from the outside in. Here the rule is per cell rather than per axis, so it also holds
 * when a Prompt S/R axis swaps LoRAs or a Size axis is the slow one:
 *
 * 1. cells are first taken in A1111's default order (z outermost, then y, x fastest);
 * 2. then sorted, stably, by what it costs to change between them, costliest first: the checkpoint, the VAE,
 *    Clip skip (a different text-encoder output), the size (new latent and image buffers), the set of LoRAs
 *    (a LoRA added or dropped needs the base weights back), and last the LoRA weights (a re-merge of the kept
 *    deltas, under 0.5 s). Each key ranks its values by where they first appear in step 1's order.
 *
 * A stable sort on those keys puts every cell of one checkpoint together (the fewest model loads there can be),
 * within it every cell of one VAE together, and so on down; cells that differ only in a `<lora:name:w>` weight
 * end up next to each other, so the renderer re-merges instead of reloading; cells that differ in nothing costly
 * keep A1111's order.
 */
export function orderCells(cells: GridCellPlan[], counts: { x: number; y: number; z: number }): GridCellPlan[] {
  const base = [...cells].sort((a, b) => index(a, counts) - index(b, counts));
  const keyed = base.map((cell) => ({ cell, keys: costKeys(cell) }));
  const ranks: Map<string, number>[] = [];
  for (const { keys } of keyed) {
    keys.forEach((key, i) => {
      const rank = (ranks[i] ??= new Map());
      if (!rank.has(key)) rank.set(key, rank.size);
    });
  }
  const order = keyed.map((k, position) => ({ ...k, position, rank: k.keys.map((key, i) => ranks[i].get(key)!) }));
  order.sort((a, b) => {
    for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i] - b.rank[i];
    return a.position - b.position;
  });
  return order.map((o) => o.cell);
}

function index(cell: GridCellPlan, counts: { x: number; y: number }): number {
  return cell.x + cell.y * counts.x + cell.z * counts.x * counts.y;
}

/** The keys a cell is sorted by, costliest change first. */
export function costKeys(cell: GridCellPlan): string[] {
  const parts = readPromptFile(cell.promptText);
  const checkpoint = cell.checkpoint ?? `${parameterValue(parts, 'Model hash') ?? ''}\u0000${parameterValue(parts, 'Model') ?? ''}`;
  const vae = cell.vae ?? parameterValue(parts, 'VAE') ?? '';
  const clipSkip = parameterValue(parts, 'Clip skip') ?? '';
  const size = parameterValue(parts, 'Size') ?? '';
  const loras = parsePromptDocument(cell.promptText).positive.tags.filter((t) => t.type === 'lora' || t.type === 'lyco');
  const loraSet = [...new Set(loras.map((t) => t.positional[0] ?? ''))].sort().join('\u0000');
  const loraWeights = loras.map((t) => `${t.positional.join(':')}|${JSON.stringify(t.named)}`).join('\u0000');
  return [checkpoint, vae, clipSkip, size, loraSet, loraWeights];
}
