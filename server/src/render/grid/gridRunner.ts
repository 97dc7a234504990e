import type { GridCellPlan, GridPlan } from '../../service/xyz/gridTypes';

/**
 * Renders an X/Y/Z plot's cells (the planner's `GridPlan`) through whichever engine the caller
 * wraps in `renderCell`: the local engine (one RenderHost, so sessions and LoRA deltas carry from
 * cell to cell) or a webui backend. The CLI's `grid` and the extension's panel both run it.
 */

/** One rendered cell: the PNG with its own infotext, as the engine returned it. */
export interface CellResult {
  png: Uint8Array;
  infotext: string;
  seed?: number;
  width: number;
  height: number;
  /** Local engine: graphs kept from the previous cell (a LoRA-weight-only change re-merges, it does not reload). */
  reused?: string[];
  /** Local engine: where the cell's time went (ms). */
  timings?: { load: number; encode: number; denoise: number; decode: number };
  /** What the engine did differently from A1111 for this cell. */
  notes?: string[];
}

export interface GridCellOutcome {
  /** The cell's place in `plan.cells`. */
  index: number;
  cell: GridCellPlan;
  /** The render, when it succeeded. */
  result?: CellResult;
  /** Why the cell has no image (the engine's message); the grid went on without it. */
  error?: string;
}

export interface GridRunResult {
  /** Every cell that finished, rendered or failed, in plan order. */
  done: GridCellOutcome[];
  /** Indexes into `plan.cells` of the cells never finished (the run was cancelled first), in plan order. */
  missing: number[];
  cancelled: boolean;
}

export interface GridRunOptions {
  /** Stops the run: no cell starts after it, and the cells in flight are told to stop (their engine cancels within a step). */
  signal?: AbortSignal;
  /** Each cell as it finishes (rendered or failed), in the order they finish. */
  onCell?: (outcome: GridCellOutcome) => void;
  /**
   * Cells in flight at once. 1 for the local engine, A1111 and ComfyUI (they render one image at a time, and the
   * order keeps model changes rare); SwarmUI takes every cell at once and spreads them over its backends.
   */
  concurrency?: number;
}

/** Thrown by a `renderCell` that stopped because the run's signal fired: the cell is missing, not failed. */
export class CellCancelled extends Error {
  constructor() {
    super('cell cancelled');
    this.name = 'CellCancelled';
  }
}

export type RenderCell = (cell: GridCellPlan, signal: AbortSignal) => Promise<CellResult>;

export async function runGrid(plan: GridPlan, renderCell: RenderCell, options: GridRunOptions = {}): Promise<GridRunResult> {
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, plan.cells.length || 1));
  // A controller of our own, so a cell in flight is stopped by the caller's signal without us owning theirs.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (options.signal?.aborted) stop.abort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const outcomes: (GridCellOutcome | undefined)[] = new Array(plan.cells.length).fill(undefined);
  let next = 0;
  const lane = async () => {
    while (!stop.signal.aborted && next < plan.cells.length) {
      const index = next++;
      const cell = plan.cells[index];
      let outcome: GridCellOutcome;
      try {
        outcome = { index, cell, result: await renderCell(cell, stop.signal) };
      } catch (e) {
        // A cell the cancel stopped stays missing; any other failure is that cell's, and the grid goes on.
        if (stop.signal.aborted || e instanceof CellCancelled) continue;
        outcome = { index, cell, error: e instanceof Error ? e.message : String(e) };
      }
      outcomes[index] = outcome;
      options.onCell?.(outcome);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const done = outcomes.filter((o): o is GridCellOutcome => o !== undefined);
  const missing = outcomes.flatMap((o, i) => (o ? [] : [i]));
  // A cancel that came after the last cell changed nothing: the grid is whole.
  return { done, missing, cancelled: stop.signal.aborted && missing.length > 0 };
}
