import type { GridCellPlan } from '../../service/xyz/gridTypes';
import type { LoraSpec } from '../lora/prepare';
import type { RenderRequest } from '../messages';
import { RenderError, RenderHost } from '../renderHost';
import { BackendError, RenderBackend } from '../backends/backend';
import { CellCancelled, CellResult, RenderCell } from './gridRunner';

/** A cell's progress, for a progress bar or the panel's live cell. */
export interface CellProgress {
  cell: GridCellPlan;
  step: number;
  steps: number;
}

export interface LocalCellRendererOptions {
  /** One host for the whole grid (or the extension's RenderService over it): its worker keeps sessions and LoRA deltas between cells. */
  host: Pick<RenderHost, 'render'>;
  /** What every cell's request shares (device, defaults, overrides, previewEvery). */
  request: Omit<RenderRequest, 'promptText' | 'model' | 'loras'>;
  /** The model folder or checkpoint for a cell (its `checkpoint` from a Checkpoint name axis, else the file's). */
  model: (cell: GridCellPlan) => string | Promise<string>;
  /** The cell's LoRA tags resolved to files (a Prompt S/R over a weight changes them from cell to cell). */
  loras: (cell: GridCellPlan) => LoraSpec[] | Promise<LoraSpec[]>;
  onProgress?: (p: CellProgress) => void;
}

/**
 * Cells on the local engine: one RenderRequest per cell through the same RenderHost, so a cell that
 * differs from the previous one only in LoRA weights re-merges into the kept sessions (its result's
 * `reused` names them) instead of loading the model again.
 */
export function localCellRenderer(o: LocalCellRendererOptions): RenderCell {
  return async (cell, signal) => {
    const [model, loras] = await Promise.all([o.model(cell), o.loras(cell)]);
    try {
      const r = await o.host.render(
        { ...o.request, promptText: cell.promptText, model, loras },
        { signal, onProgress: o.onProgress && ((p) => o.onProgress!({ cell, step: p.step, steps: p.steps })) },
      );
      return {
        png: new Uint8Array(r.png),
        infotext: r.infotext,
        seed: r.seed,
        width: r.width,
        height: r.height,
        reused: r.reused,
        timings: r.timings,
        notes: r.notes,
      } satisfies CellResult;
    } catch (e) {
      if (e instanceof RenderError && e.cancelled && signal.aborted) throw new CellCancelled();
      throw e;
    }
  };
}

/**
 * Cells on the user's webui. A1111 and ComfyUI render one image at a time, so cells go one by one
 * (in plan order, which keeps checkpoint changes rare); SwarmUI gets every cell at once, so it
 * spreads them over its backends (docs/backends.md).
 */
export function backendCellRenderer(
  backend: RenderBackend,
  cellCount: number,
  options: { overrides?: RenderRequest['overrides']; onProgress?: (p: CellProgress) => void } = {},
): { renderCell: RenderCell; concurrency: number } {
  const renderCell: RenderCell = async (cell, signal) => {
    try {
      const r = await backend.render(
        { promptText: cell.promptText, overrides: options.overrides },
        { signal, onProgress: options.onProgress && ((p) => options.onProgress!({ cell, step: p.step, steps: p.steps })) },
      );
      return { png: r.png, infotext: r.infotext, seed: r.seed, width: r.width, height: r.height, notes: r.notes };
    } catch (e) {
      if (e instanceof BackendError && e.kind === 'cancelled') throw new CellCancelled();
      throw e;
    }
  };
  return { renderCell, concurrency: backend.kind === 'swarmui' ? Math.max(1, cellCount) : 1 };
}
