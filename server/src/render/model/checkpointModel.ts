import * as fs from 'fs';
import * as path from 'path';
import { bundledClipFolder } from '../../node/bundledTokenizer';
import { a1111ShortHash, loadCheckpoint } from '../checkpoint';
import { SD_SCHEDULER_CONFIG } from '../pipeline/schedulers';
import { SdArchitecture } from '../sdGraphs/architecture';
import { autoOrder, DeviceSetting, unavailableDevice } from '../onnx/devices';
import { checkpointGraphs } from '../sdGraphs/graphFiles';
import { GraphForm, graphFormFor, PLAIN_FORM } from '../sdGraphs/graphOptions';
import { ModelFolder, ModelFolderError, openModelFolder } from './modelFolder';

/** Files A1111 takes as a checkpoint's own VAE when its VAE setting is "Automatic" (pickles are never opened here). */
const VAE_SIDECAR_EXTENSIONS = ['.vae.safetensors'];

/**
 * The architecture the graphs are built with. SD2's text encoder is read as A1111 reads it: OpenCLIP's output
 * before its last block (`layer="penultimate"`), through the final norm, which is a graph of one layer fewer with
 * its `last_hidden_state` (as diffusers' SD2 text encoder, which drops that layer, is).
 */
export function renderArchitecture(architecture: SdArchitecture): SdArchitecture {
  if (architecture.family !== 'sd2') return architecture;
  const [te, ...rest] = architecture.textEncoders;
  return { ...architecture, textEncoders: [{ ...te, layers: te.layers - 1 }, ...rest] };
}

/** `<name>.vae.safetensors` beside the checkpoint, as A1111's "Automatic" VAE finds it. */
export function sidecarVae(checkpoint: string): string | undefined {
  const base = checkpoint.replace(/\.safetensors$/i, '');
  return VAE_SIDECAR_EXTENSIONS.map((ext) => base + ext).find((f) => fs.existsSync(f));
}

/**
 * A single-file checkpoint as a model the pipeline renders: its graphs built (or found in the cache) over the
 * file's own bytes, the CLIP tokenizer shipped with sd-prompt (checkpoints carry none), and the noise schedule
 * every SD checkpoint was trained with (scaled-linear betas 0.00085–0.012 over 1000 steps) with the file's
 * prediction type. Throws a CheckpointError (one message naming the file) for a file that cannot be rendered.
 */
export async function openCheckpointModel(file: string, options: { vae?: string | null; cacheRoot?: string; form?: GraphForm } = {}): Promise<ModelFolder> {
  // A file; null: the checkpoint's own VAE (A1111's "None"); undefined: "Automatic" (the sidecar, else its own).
  const vae = options.vae === null ? undefined : (options.vae ?? sidecarVae(file));
  const loaded = await loadCheckpoint(file, { ...(vae ? { vae } : {}), ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  const architecture = renderArchitecture(loaded.architecture);
  const graphs = checkpointGraphs({
    checkpoint: file,
    architecture,
    source: loaded.weights,
    // The form the device runs best (checkpointFormFor); plain fp32 unless the caller says.
    dtype: (options.form ?? PLAIN_FORM).dtype,
    fused: (options.form ?? PLAIN_FORM).fused,
    ...(vae ? { otherFiles: [vae] } : {}),
    ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}),
  });
  const clip = bundledClipFolder();
  if (!clip) throw new ModelFolderError(file, `${file} carries no tokenizer, and the CLIP tokenizer shipped with sd-prompt (resources/clip) is missing: reinstall sd-prompt`);
  const tokenizer = { vocab: path.join(clip, 'vocab.json'), merges: path.join(clip, 'merges.txt') };
  const graph = (component: keyof typeof graphs.graphs) => {
    const g = graphs.graphs[component];
    if (!g) throw new ModelFolderError(file, `${file}: no ${component} graph was built`);
    return g;
  };
  const dataFolders = new Map<string, string>();
  for (const g of Object.values(graphs.graphs)) if (g?.dataFolder) dataFolders.set(g.model, g.dataFolder);
  const sdxl = architecture.family === 'sdxl';
  return {
    root: graphs.folder,
    kind: architecture.family,
    textEncoder: graph('text_encoder').model,
    textEncoder2: sdxl ? graph('text_encoder_2').model : undefined,
    unet: graph('unet').model,
    vaeDecoder: graph('vae_decoder').model,
    schedulerConfig: { ...SD_SCHEDULER_CONFIG, prediction_type: architecture.prediction },
    modelIndex: { _class_name: sdxl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline', checkpoint: file },
    tokenizer,
    tokenizer2: sdxl ? tokenizer : undefined,
    dataFolders,
    checkpoint: file,
    ...(vae ? { vae } : {}),
  };
}

/**
 * `sdPrompt.model` / `--model`: a single-file checkpoint (`.safetensors`) or a diffusers ONNX model folder. `vae` (a
 * file, or null for the checkpoint's own) decodes a checkpoint's renders; a folder keeps its own vae_decoder graph.
 */
export async function openModel(model: string, options: { vae?: string | null; form?: GraphForm } = {}): Promise<ModelFolder> {
  if (/\.(ckpt|pt|pth|bin)$/i.test(model) || (fs.existsSync(model) && fs.statSync(model).isFile())) {
    return openCheckpointModel(model, { ...(options.vae !== undefined ? { vae: options.vae } : {}), ...(options.form ? { form: options.form } : {}) });
  }
  return openModelFolder(model);
}

/** Short hashes by file and version: the whole file is read once per version, not once per render. */
const shortHashes = new Map<string, { stamp: string; hash: Promise<string> }>();

/**
 * A1111's short hash of the checkpoint (the first 10 hex of its sha256), which its infotext writes as
 * `Model hash:`: computed once per file version (a few seconds a GB) and kept while the file stays the same.
 */
export function checkpointShortHash(file: string): Promise<string> {
  const st = fs.statSync(file);
  const stamp = `${st.size}|${st.mtimeMs}`;
  const known = shortHashes.get(file);
  if (known?.stamp === stamp) return known.hash;
  const hash = a1111ShortHash(file);
  shortHashes.set(file, { stamp, hash });
  hash.catch(() => shortHashes.delete(file));
  return hash;
}

/**
 * The graph form for a render on `setting` (graphOptions.ts, graphFormFor): a named device's, or for `auto` the
 * first device auto would try that is installed here. Graphs are built before the sessions say which device ran;
 * if auto then falls back to the CPU, fp16 and fused graphs still run there (onnxruntime's CPU EP has those
 * kernels), only slower.
 */
export function checkpointFormFor(setting: DeviceSetting, platform: NodeJS.Platform = process.platform, override?: string): GraphForm {
  const device = setting === 'auto' ? (autoOrder(platform).find((d) => !unavailableDevice(d, platform)) ?? 'cpu') : setting;
  return graphFormFor(device, override);
}

/** The devices whose graph form a render takes from the table (graphFormFor) without being told. */
const FORM_DEVICES: readonly DeviceSetting[] = ['webgpu', 'cuda', 'dml'];

/**
 * The graph form a checkpoint render opens with. A named GPU device gets its table form (fp16, fused ops). The CPU
 * gets the plain fp32 graphs, as issue 14 asks ("the plain form on the CPU EP"): they are what the folder twin and the
 * golden tests compute, bit for bit. `auto` also stays plain: the form is fixed before the sessions say which device
 * runs, and fp16 graphs that fall back to the CPU run slower and further from A1111 than plain ones. The
 * SD_PROMPT_GRAPH_FORM override applies to every device (`fused` on the CPU took 0.5-0.7x the plain step time in
 * bench/fusedGraphs.bench.ts; docs/rendering.md).
 */
export function renderGraphForm(setting: DeviceSetting, override: string | undefined = process.env.SD_PROMPT_GRAPH_FORM): GraphForm {
  if (override) return checkpointFormFor(setting, process.platform, override);
  return FORM_DEVICES.includes(setting) ? checkpointFormFor(setting, process.platform, '') : PLAIN_FORM;
}
