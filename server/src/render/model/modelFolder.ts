import * as fs from 'fs';
import * as path from 'path';
import { bundledClipFolder } from '../../node/bundledTokenizer';

/**
 * A diffusers ONNX model folder, as optimum and the diffusers ONNX pipelines write it:
 * `model_index.json`, `text_encoder/`, (SDXL) `text_encoder_2/`, `unet/`, `vae_decoder/`,
 * `tokenizer/`, `scheduler/scheduler_config.json`. Weights stay on disk: sessions are created
 * from the model paths so ORT reads `model.onnx_data` (or `weights.pb`, or one file per tensor)
 * itself — an SDXL fp16 UNet's ~5 GB would not fit one Node Buffer.
 */
export interface ModelFolder extends ModelGraphs {
  tokenizer: { vocab: string; merges: string };
  tokenizer2?: { vocab: string; merges: string };
  /**
   * For a checkpoint's graphs (model/checkpointModel.ts): the folder each graph's external data lies in, by graph
   * file. They name the checkpoint by its basename, and ORT reads it from that folder only.
   */
  dataFolders?: ReadonlyMap<string, string>;
  /** The single-file checkpoint the graphs were built from, when they were. */
  checkpoint?: string;
  /** The separate VAE file the checkpoint's vae_decoder graph was built from (A1111's loaded_vae_file), when one was. */
  vae?: string;
}

/** The folder without its tokenizer: what a LoRA merge reads (`sd-prompt merge` copies the rest as it is). */
export interface ModelGraphs {
  root: string;
  kind: 'sd1' | 'sd2' | 'sdxl' | 'unknown';
  textEncoder: string;
  textEncoder2?: string;
  unet: string;
  vaeDecoder: string;
  schedulerConfig: Record<string, unknown>;
  modelIndex: Record<string, unknown>;
}

export class ModelFolderError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

function readJson(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ModelFolderError(file, `${file} is missing: ${what}`);
  }
  try {
    const value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch (e) {
    throw new ModelFolderError(file, `${file} is not valid JSON (${(e as Error).message}): re-export the model or restore the file.`);
  }
}

function needFile(file: string, what: string): string {
  if (!fs.existsSync(file)) throw new ModelFolderError(file, `${file} is missing: ${what}`);
  return file;
}

/**
 * Checks the layout, tokenizer included, and reads the small JSON files; throws ModelFolderError naming the file.
 * A folder without `tokenizer/` uses the CLIP files shipped with sd-prompt (`bundled`): every SD text encoder
 * shares CLIP's BPE vocabulary (null: none shipped). A half tokenizer (one of the two files) is an error: the folder is damaged.
 */
export function openModelFolder(root: string, bundled: string | null = bundledClipFolder() ?? null): ModelFolder {
  const graphs = openModelGraphs(root);
  const tokenizerOf = (folder: string) => {
    const vocab = path.join(root, folder, 'vocab.json');
    const merges = path.join(root, folder, 'merges.txt');
    if (bundled && !fs.existsSync(vocab) && !fs.existsSync(merges)) {
      return { vocab: path.join(bundled, 'vocab.json'), merges: path.join(bundled, 'merges.txt') };
    }
    return {
      vocab: needFile(vocab, `the CLIP tokenizer's vocabulary is needed; copy ${folder}/ from the original model.`),
      merges: needFile(merges, `the CLIP tokenizer's merges are needed; copy ${folder}/ from the original model.`),
    };
  };
  return {
    ...graphs,
    tokenizer: tokenizerOf('tokenizer'),
    tokenizer2: graphs.textEncoder2 !== undefined && fs.existsSync(path.join(root, 'tokenizer_2')) ? tokenizerOf('tokenizer_2') : undefined,
  };
}

/** Checks what a merge needs (the graphs, the model index, the scheduler) and reads the small JSON files. */
export function openModelGraphs(root: string): ModelGraphs {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new ModelFolderError(root, `${root} is not a folder: set sdPrompt.model (or --model) to a diffusers ONNX model folder.`);
  }
  const exportHint = 'export the model with `optimum-cli export onnx --model <hub id or folder> <out>` (the diffusers ONNX layout).';
  const modelIndex = readJson(path.join(root, 'model_index.json'), `this does not look like a diffusers model folder; ${exportHint}`);
  const component = (name: string) => needFile(path.join(root, name, 'model.onnx'), `the ${name} graph is needed; ${exportHint}`);
  const hasSecondEncoder = fs.existsSync(path.join(root, 'text_encoder_2', 'model.onnx'));
  const className = String(modelIndex._class_name ?? '');
  const folder: ModelGraphs = {
    root,
    kind: 'unknown',
    textEncoder: component('text_encoder'),
    textEncoder2: hasSecondEncoder ? component('text_encoder_2') : undefined,
    unet: component('unet'),
    vaeDecoder: component('vae_decoder'),
    schedulerConfig: readJson(path.join(root, 'scheduler', 'scheduler_config.json'), `the noise schedule is needed; ${exportHint}`),
    modelIndex,
  };
  // `sd-prompt convert` writes the family it detected in the checkpoint: it knows narrow test models too.
  const converted = modelIndex._sd_prompt_family;
  if (converted === 'sd1' || converted === 'sd2' || converted === 'sdxl') folder.kind = converted;
  else if (/XL/.test(className) || hasSecondEncoder) folder.kind = 'sdxl';
  else {
    const unetConfig = path.join(root, 'unet', 'config.json');
    const width = fs.existsSync(unetConfig) ? Number(readJson(unetConfig, '').cross_attention_dim) : NaN;
    folder.kind = width === 1024 ? 'sd2' : width === 768 ? 'sd1' : 'unknown';
  }
  return folder;
}
