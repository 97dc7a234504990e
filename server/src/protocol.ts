/**
 * Messages between the extension and the language server beyond LSP. Of the server's code, the
 * client imports this file and the render host (it runs the render worker itself); the types
 * below that the language service defines are imported as types only, so none of it is bundled.
 */
import type { LoraPickItem, RenderLora } from './service/features/extensionRequests';
import type { LoraMergeOutcome } from './service/features/checks/mergeChecks';

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

/** One LoRA of the library as the picker shows it (the language service's shape). */
export type { LoraPickItem as LoraListItem } from './service/features/extensionRequests';

export interface LoraListResult {
  /** The LoRA folders the library scans (settings and webui layouts). */
  folders: string[];
  loras: LoraPickItem[];
}

/** The prompt's LoRA tags resolved to files for a render, as A1111 resolves them. */
export const RENDER_LORAS_REQUEST = 'sdPrompt/renderLoras';

export interface RenderLorasParams {
  /** The whole .prompt text being rendered. */
  text: string;
}

export interface RenderLorasResult {
  loras: RenderLora[];
  /** Tags left out, and why. */
  warnings: string[];
}

/** The A1111 infotext ("generation data") of a .prompt text. */
export const GENERATION_DATA_REQUEST = 'sdPrompt/generationData';

export interface GenerationDataParams {
  text: string;
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

export interface GenerationDataResult {
  infotext: string;
}

/**
 * After a preview render, what its merge did with each LoRA (client → server). The server shows it
 * as diagnostics on the file's LoRA tags until the next render of the file or until it is closed.
 */
export const MERGE_REPORT_NOTIFICATION = 'sdPrompt/mergeReport';

export interface MergeReportParams {
  textDocument: { uri: string };
  /** The model folder's name. */
  model: string;
  loras: LoraMergeOutcome[];
}
