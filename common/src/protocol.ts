/**
 * Messages between the extension and the language server beyond LSP: request names with their
 * params and results, and the data shapes they carry. The client and the server both import this
 * module (vscode-eslint's `shared/` is the model), so neither reaches into the other's sources;
 * the language service uses the shapes as its result types. Types and string constants only:
 * nothing here runs, so it adds nothing to either bundle but the names.
 */
import type { LoraMergeOutcome } from './mergeReport';

export const TOKEN_COUNT_REQUEST = 'sdPrompt/tokenCount';

export interface TokenCountParams {
  textDocument: { uri: string };
  position: { line: number; character: number };
}

/** The webui counter for the part of the file at the position; null on the parameter line. */
export interface TokenCountResult {
  section: 'positive' | 'negative';
  count: number;
  target: number;
  approximate: boolean;
  /** `85/150`, or `≈85/150` for an approximate count. */
  text: string;
  /** Where the tokenizer came from (a folder, or why the count is approximate). */
  tokenizer: string;
}

/** The LoRA library for the Insert LoRA picker. */
export const LORA_LIST_REQUEST = 'sdPrompt/loraList';

export interface LoraListParams {
  /** The document the LoRA goes into: resource settings (`sdPrompt.lora.defaultWeight`) are read for it. */
  textDocument?: { uri: string };
}

/** One LoRA of the library as the Insert LoRA picker shows it. */
export interface LoraListItem {
  /** The file name without extension: what `<lora:NAME:...>` is inserted with (it always resolves). */
  name: string;
  /** `ss_output_name`, which A1111 also accepts. */
  alias?: string;
  /** Folder below the library root, '/'-separated ('' at the top). */
  subfolder: string;
  path: string;
  baseModel: string;
  kind: string;
  triggerWords: string[];
  /** The card's preferred weight when it has one, else `sdPrompt.lora.defaultWeight`. */
  weight: number;
  weightSource: 'preferred' | 'default';
  previewPath?: string;
  /** Why the file cannot be used (unreadable, a pickle that is never opened). */
  problem?: string;
}

export interface LoraListResult {
  /** The LoRA folders the library scans (settings and webui layouts). */
  folders: string[];
  loras: LoraListItem[];
}

/** The prompt's LoRA tags resolved to files for a render, as A1111 resolves them. */
export const RENDER_LORAS_REQUEST = 'sdPrompt/renderLoras';

export interface RenderLorasParams {
  /** The whole .prompt text being rendered. */
  text: string;
}

/** A LoRA a render merges (the render worker's `LoraSpec`). */
export interface RenderLora {
  name: string;
  path: string;
  te: number;
  unet: number;
  /** A1111's `dyn`: only the first `dyn` ranks of the LoRA's modules are used; absent when the tag has none. */
  dyn?: number;
}

/**
 * A tag's LoRA a render leaves out, for the preview panel: `not-found` (no file or alias of that name in the
 * library), `pickle` (a .pt/.ckpt, never opened), `invalid-weight` (a tag's weight A1111 cannot parse drops
 * every LoRA of the generation; `detail` says which).
 */
export interface SkippedLora {
  /** The name as the tag writes it (spaces included). */
  name: string;
  reason: 'not-found' | 'pickle' | 'invalid-weight';
  detail?: string;
}

export interface RenderLorasResult {
  loras: RenderLora[];
  /** Tags left out, and why (one line each, for logs and the CLI). */
  warnings: string[];
  /** The same, per LoRA (absent from a server that predates it). */
  skipped?: SkippedLora[];
}

/** The A1111 infotext ("generation data") of a .prompt text. */
export const GENERATION_DATA_REQUEST = 'sdPrompt/generationData';

export interface GenerationDataParams {
  text: string;
}

export interface GenerationDataResult {
  infotext: string;
}

/** What Render Preview renders for a selection of a file (the selection with the file's negative prompt and parameters). */
export const SELECTION_PROMPT_REQUEST = 'sdPrompt/selectionPrompt';

export interface SelectionPromptParams {
  /** The whole file. */
  text: string;
  selected: string;
}

export interface SelectionPromptResult {
  promptText: string;
}

/**
 * After a preview render, what its merge did with each LoRA (client → server). The server shows it
 * as diagnostics on the file's LoRA tags until the next render of the file or until it is closed.
 */
export const MERGE_REPORT_NOTIFICATION = 'sdPrompt/mergeReport';

/** What one render's merge did with one LoRA, as sent: the outcome part of the one merge report (mergeReport.ts). */
export type { LoraMergeOutcome };

export interface MergeReportParams {
  textDocument: { uri: string };
  /** The model folder's name. */
  model: string;
  loras: LoraMergeOutcome[];
}

/** The checkpoints of the user's webui folder (Select Model…), and the one a prompt's generation data selects. */
export const CHECKPOINT_LIST_REQUEST = 'sdPrompt/checkpointList';

export interface CheckpointListParams {
  /** A prompt file's text: its `Model hash:` / `Model:` select a checkpoint as A1111's paste does (`chosen`). */
  text?: string;
  /** `sdPrompt.vae` as set: with the text's `VAE hash:` / `VAE:`, it picks `chosenVae` as A1111 does. */
  vae?: string;
}

export interface CheckpointListItem {
  /** A1111's name: the path below the models folder with its extension. */
  name: string;
  /** What A1111 writes as `Model:`. */
  nameForExtra: string;
  path: string;
  /** `sd1`, `sd2`, `sdxl`, or `other` for files sd-prompt cannot render. */
  family: string;
  dtype: string;
  size: number;
  /** The first 10 hex of the sha256, once known (hashing runs in the background). */
  shortHash?: string;
  renderable: boolean;
  problem?: string;
}

export interface CheckpointListResult {
  /** The checkpoint folders scanned (models/Stable-diffusion, models/checkpoints). */
  folders: string[];
  checkpoints: CheckpointListItem[];
  /** The checkpoint the text's generation data selects, and by which parameter. */
  chosen?: { path: string; by: 'Model hash' | 'Model' };
  /**
   * The VAE the text's `VAE hash:` / `VAE:` and the `vae` setting pick (service/library/vae.ts): a file, or null for
   * the checkpoint's own (A1111's "None", or a VAE name the webui lacks). Absent: Automatic (the render's engine looks
   * for `NAME.vae.safetensors` beside the checkpoint).
   */
  chosenVae?: { path: string | null; by: string };
}

/**
 * The LoRAs a render server has (client → server), fetched with the backend's `listLoras` when
 * `sdPrompt.render.backend` names a server: a tag whose LoRA the server lacks gets a diagnostic.
 * `loras: null` clears it (backend back to `local`, or the list could not be fetched: `error` says why).
 */
export const SERVER_LORAS_NOTIFICATION = 'sdPrompt/serverLoras';

export interface ServerLorasParams {
  /** `a1111` | `comfyui` | `swarmui`. */
  backend: string;
  /** The server's URL, as the diagnostic names it. */
  server: string;
  loras: { name: string; alias?: string; path?: string }[] | null;
  error?: string;
}

/**
 * What Render Preview renders for a file with dynamic prompts (client → server before every render): the
 * first image's variant for the render's seed, as sd-dynamic-prompts picks it in random mode. With dynamic
 * prompts off, or no braces and wildcards in the file, `promptText` is the text unchanged and `template` absent.
 */
export const RENDER_PROMPT_REQUEST = 'sdPrompt/renderPrompt';

export interface RenderPromptParams {
  /** The text to render (the whole file, or what SELECTION_PROMPT_REQUEST made of a selection). */
  text: string;
  /** The seed the render uses when it overrides the file's (Re-render's new seed). */
  seed?: number;
}

export interface RenderPromptResult {
  /** The text with the variant chosen; its parameter line carries `Template:` / `Negative Template:` as the extension writes them. */
  promptText: string;
  /** The templates, when the text had dynamic parts. */
  template?: { prompt: string; negativePrompt: string };
  /** Which variant it was, for the panel: e.g. `variant for seed 1234: red ball` (absent without dynamic parts). */
  variant?: string;
}
