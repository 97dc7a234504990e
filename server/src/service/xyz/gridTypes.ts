/**
 * The X/Y/Z plot's contract between its parts: the axis parser and planner (`service/xyz/`, pure:
 * text in, cell prompts out), the grid image (`render/grid/gridImage.ts`) and the runner that renders
 * the cells (`render/grid/gridRunner.ts`, the CLI's `grid`, the extension's panel). Types only.
 */

/** A1111's X/Y/Z axis types that apply here (its labels, as xyz_grid.py names them), and ours for dynamic-prompt variants. */
export type XyzAxisType =
  | 'Seed'
  | 'Var. seed'
  | 'Var. strength'
  | 'Steps'
  | 'CFG Scale'
  | 'Prompt S/R'
  | 'Prompt order'
  | 'Sampler'
  | 'Schedule type'
  | 'Checkpoint name'
  | 'VAE'
  | 'Clip skip'
  | 'Size'
  /** The file's dynamic-prompt variants (sd-dynamic-prompts' combinatorial order, 1-based): ours, not A1111's. */
  | 'Prompt variant';

/** Which axis an axis spec belongs to; errors name it. */
export type XyzAxisName = 'x' | 'y' | 'z';

export interface GridAxis {
  type: XyzAxisType;
  /** The values as A1111's value syntax expands them (`1-5`, `1-3 (+0.5)`, `0-1 [5]`, quoted lists), in order. */
  values: string[];
  /** Each value's label as A1111 draws it (`Seed: 1`, `CFG Scale: 7`; Prompt S/R shows the value alone). */
  labels: string[];
}

/** One cell: where it sits, and the whole `.prompt` text (prompt, negative prompt, parameter line) that renders it. */
export interface GridCellPlan {
  /** Indexes into the axes' values (0 on an absent axis). */
  x: number;
  y: number;
  z: number;
  promptText: string;
  /**
   * The checkpoint or VAE this cell asks for by name (from a Checkpoint name / VAE axis), so the runner can
   * resolve it as `Model:` / `VAE:` would be; absent when the cell keeps the file's. `checkpoint` is the name as
   * `GridPlanContext.checkpoints` spells it (the value as typed when no list was given). `vae` may be `None` or
   * `Automatic` (A1111's choices for the checkpoint's own VAE): the cell's text then has no `VAE:`.
   */
  checkpoint?: string;
  vae?: string;
}

export interface GridPlan {
  x: GridAxis;
  y?: GridAxis;
  z?: GridAxis;
  /** Every cell, in the order it should run: grouped so that model, VAE and other session changes happen as rarely as they can. */
  cells: GridCellPlan[];
}

/** What the planner may need beyond the text: names to check Checkpoint name / VAE values against, and so on. */
export interface GridPlanContext {
  /** The checkpoint names the catalog has (A1111's names), to check `Checkpoint name` values; absent: any name is taken. */
  checkpoints?: string[];
  vaes?: string[];
  /**
   * The file's dynamic-prompt variants in combinatorial order (for `Prompt variant`); absent: the service's own
   * expander lists them with no wildcard files.
   */
  variants?: (promptText: string) => { prompt: string; negativePrompt: string }[];
  /** Sampler names the renderer takes (A1111's names); absent: every name A1111 knows. */
  samplers?: string[];
  /** Schedule type names the renderer takes; absent: every name A1111 knows. */
  scheduleTypes?: string[];
  /** A seed for each `-1` (A1111: `random.randrange(4294967294)`); tests pass a fixed one. */
  randomSeed?: () => number;
  /** Most cells a plan may have (default 1,000): a guard against `Prompt order` of 9 parts or `Seed: 1-100000`. */
  maxCells?: number;
}

/** A bad axis spec: which axis, where in the spec (0-based column), and what is wrong. */
export class GridSpecError extends Error {
  constructor(readonly axis: XyzAxisName, readonly column: number, readonly reason: string) {
    super(`${axis.toUpperCase()} axis, column ${column + 1}: ${reason}`);
    this.name = 'GridSpecError';
  }
}
