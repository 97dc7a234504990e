import * as fs from 'fs';
import * as path from 'path';
import { bundledClipFolder } from '../../node/bundledTokenizer';
import { renderArchitecture, sidecarVae } from '../model/checkpointModel';
import { floatToHalf, halfToFloatTable } from '../onnx/half';
import { SD_SCHEDULER_CONFIG } from '../pipeline/schedulers';
import { PipelineComponent, SdArchitecture, WeightDtype, WeightRef, WeightSource } from '../sdGraphs/architecture';
import { buildSdGraphs } from '../sdGraphs/pipelineGraphs';
import { CheckpointError } from './checkpointError';
import { loadCheckpoint } from './loadCheckpoint';

/**
 * `sd-prompt convert`: a single-file checkpoint as a standalone diffusers ONNX folder. The graphs are the ones
 * the renderer builds for the checkpoint itself (sdGraphs/, computing in fp32, SD2's text encoder one layer
 * short as A1111 reads it), so the folder renders the same image; only where the weights lie differs: each
 * graph's weights are copied into `model.onnx_data` beside its `model.onnx` (ONNX external data, which
 * onnxruntime and the onnx tools read relative to the graph), streamed a block at a time, in the checkpoint's
 * own dtype or converted to fp16/fp32 (fp16 rounding is render/onnx/half.ts's, nearest-even).
 *
 * The caller gives an empty folder to write into (the CLI's staging folder) and owns what happens to it.
 */

/** `float16` / `float32`: every weight converted; undefined: each weight in the dtype the checkpoint stores it in. */
export type ConvertDtype = 'float16' | 'float32' | undefined;

/**
 * Bytes that replace ranges of the checkpoint (a LoRA merge's patched weights): a weight whose exact range is
 * here is read from `file` at `offset` instead. Ranges are keyed by the source file's real path.
 */
export interface WeightOverlay {
  find(file: string, offset: number, length: number): { file: string; offset: number } | undefined;
}

export interface ConvertOptions {
  dtype?: ConvertDtype;
  /** A VAE file instead of the checkpoint's own (default: a `<name>.vae.safetensors` sidecar, as the renderer picks). */
  vae?: string;
  overlay?: WeightOverlay;
}

export interface ConvertResult {
  architecture: SdArchitecture;
  /** Weights written per dtype. */
  dtypes: Record<string, number>;
  /** Bytes of weights written (all data files). */
  weightBytes: number;
  components: PipelineComponent[];
  /** The VAE file used instead of the checkpoint's own, when one was. */
  vae?: string;
}

/** What one data file receives: each weight in graph order, where it goes and what it is made from. */
interface PlannedWeight {
  name: string;
  ref: WeightRef;
  target: WeightDtype;
  offset: number;
  length: number;
}

const DATA_FILE = 'model.onnx_data';
const BYTES: Record<WeightDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };
/** Elements converted per block: 4 MiB of fp32. */
const BLOCK_ELEMENTS = 1 << 20;

/** Big weights start on a page (ORT can map them); small ones on 64 bytes, so padding stays under 1% of a model. */
function alignFor(length: number): number {
  return length >= 1 << 20 ? 4096 : 64;
}

export async function convertCheckpoint(checkpoint: string, outFolder: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const vae = options.vae ?? sidecarVae(checkpoint);
  const loaded = await loadCheckpoint(checkpoint, vae ? { vae } : {});
  const architecture = renderArchitecture(loaded.architecture);
  const plans = new Map<PipelineComponent, PlannedWeight[]>();
  const asked = new Map<string, WeightRef>();
  const sizes = new Map<PipelineComponent, number>();
  // The graph builders ask for every weight; each is answered with its place in the component's data file.
  const source: WeightSource = {
    weight(component, name) {
      const key = `${component}:${name}`;
      const known = asked.get(key);
      if (known) return known;
      const ref = loaded.weights.weight(component, name);
      const target = options.dtype ?? ref.dtype;
      const length = (refLength(ref) / BYTES[ref.dtype]) * BYTES[target];
      const align = alignFor(length);
      const offset = Math.ceil((sizes.get(component) ?? 0) / align) * align;
      sizes.set(component, offset + length);
      const list = plans.get(component) ?? [];
      list.push({ name, ref, target, offset, length });
      plans.set(component, list);
      const placed: WeightRef = { dtype: target, shape: ref.shape, data: { file: path.join(outFolder, component, DATA_FILE), offset, length } };
      asked.set(key, placed);
      return placed;
    },
  };
  const graphs = buildSdGraphs(architecture, { dtype: 'float32', weights: { kind: 'source', source } });
  const dtypes: Record<string, number> = {};
  let weightBytes = 0;
  const components: PipelineComponent[] = [];
  const reader = new RangeReader();
  try {
    for (const [component, graph] of Object.entries(graphs) as [PipelineComponent, NonNullable<(typeof graphs)[PipelineComponent]>][]) {
      const dir = path.join(outFolder, component);
      fs.mkdirSync(dir, { recursive: true });
      graph.model.producerName = 'sd-prompt';
      graph.model.write(path.join(dir, 'model.onnx'), { locate: () => DATA_FILE });
      const fd = fs.openSync(path.join(dir, DATA_FILE), 'w');
      try {
        for (const planned of plans.get(component) ?? []) {
          await writeWeight(fd, planned, component, reader, options.overlay);
          dtypes[planned.target] = (dtypes[planned.target] ?? 0) + 1;
          weightBytes += planned.length;
        }
        // Padding after the last weight is never read: the file ends with it.
      } finally {
        fs.closeSync(fd);
      }
      components.push(component);
    }
  } finally {
    reader.close();
  }
  writeFolderFiles(outFolder, architecture);
  return { architecture, dtypes, weightBytes, components, ...(vae ? { vae } : {}) };
}

function refLength(ref: WeightRef): number {
  return 'file' in ref.data ? ref.data.length : ref.data.bytes.byteLength;
}

/** Reads byte ranges of files, one open handle each. */
class RangeReader {
  private readonly fds = new Map<string, number>();

  read(file: string, offset: number, out: Uint8Array): void {
    let fd = this.fds.get(file);
    if (fd === undefined) this.fds.set(file, (fd = fs.openSync(file, 'r')));
    for (let at = 0; at < out.length; ) {
      const n = fs.readSync(fd, out, at, out.length - at, offset + at);
      if (n === 0) throw new CheckpointError('changed-on-disk', `${file} ended at byte ${offset + at}: it changed on disk while being converted`);
      at += n;
    }
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

const realPaths = new Map<string, string>();
function realPath(file: string): string {
  let real = realPaths.get(file);
  if (real === undefined) realPaths.set(file, (real = fs.realpathSync(file)));
  return real;
}

/** One weight into the data file at its offset, a block at a time, converted to its target dtype. */
async function writeWeight(fd: number, planned: PlannedWeight, component: PipelineComponent, reader: RangeReader, overlay?: WeightOverlay): Promise<void> {
  const { ref, target } = planned;
  const from = BYTES[ref.dtype];
  const to = BYTES[target];
  const elements = refLength(ref) / from;
  let read: (element: number, out: Uint8Array) => void;
  if ('bytes' in ref.data) {
    const bytes = ref.data.bytes;
    read = (element, out) => out.set(bytes.subarray(element * from, element * from + out.length));
  } else {
    const data = ref.data;
    const patched = overlay?.find(realPath(data.file), data.offset, data.length);
    const file = patched ? patched.file : data.file;
    const base = patched ? patched.offset : data.offset;
    read = (element, out) => reader.read(file, base + element * from, out);
  }
  for (let element = 0; element < elements; element += BLOCK_ELEMENTS) {
    const count = Math.min(BLOCK_ELEMENTS, elements - element);
    const source = new Uint8Array(count * from);
    read(element, source);
    const converted = convertBlock(source, ref.dtype, target, () => `${component} weight ${planned.name}`);
    let at = 0;
    while (at < converted.length) at += fs.writeSync(fd, converted, at, converted.length - at, planned.offset + element * to + at);
  }
}

/** A block of weights from one dtype to another; fp16 rounding nearest-even, and an overflow to Inf refused by name. */
export function convertBlock(source: Uint8Array, from: WeightDtype, to: WeightDtype, what: () => string): Uint8Array {
  if (from === to) return source;
  const count = source.length / BYTES[from];
  const values = toFloat32(source, from, count);
  if (to === 'float32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (to === 'float16') {
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      const half = floatToHalf(values[i]);
      if ((half & 0x7fff) === 0x7c00 && Number.isFinite(values[i])) {
        throw new CheckpointError('bad-dtype', `${what()} holds ${values[i]}, beyond fp16's range (65504): convert it with --fp32 or keep its own dtype`);
      }
      out[i] = half;
    }
    return new Uint8Array(out.buffer);
  }
  throw new Error(`${what()}: no conversion from ${from} to ${to}`);
}

function toFloat32(source: Uint8Array, from: WeightDtype, count: number): Float32Array {
  if (from === 'float32') return new Float32Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
  const bits = new Uint16Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
  const out = new Float32Array(count);
  if (from === 'float16') {
    const table = halfToFloatTable();
    for (let i = 0; i < count; i++) out[i] = table[bits[i]];
  } else {
    // bfloat16 is the top half of a float32: exact.
    const wide = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) wide[i] = bits[i] << 16;
  }
  return out;
}

/**
 * model_index.json, scheduler/, tokenizer(_2)/ and each component's config.json, as diffusers' ONNX folders have
 * them: the renderer reads the model index, the scheduler and the tokenizer, and tells SD1 from SD2 by the UNet
 * config's cross_attention_dim.
 */
function writeFolderFiles(out: string, arch: SdArchitecture): void {
  const sdxl = arch.family === 'sdxl';
  const json = (rel: string, value: unknown) => {
    fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
    fs.writeFileSync(path.join(out, rel), JSON.stringify(value, null, 2) + '\n');
  };
  const onnx = ['diffusers', 'OnnxRuntimeModel'];
  json('model_index.json', {
    _class_name: sdxl ? 'ORTStableDiffusionXLPipeline' : 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.27.0',
    _sd_prompt_family: arch.family,
    text_encoder: onnx,
    ...(sdxl ? { text_encoder_2: onnx, tokenizer_2: ['transformers', 'CLIPTokenizer'] } : {}),
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: onnx,
    vae_decoder: onnx,
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    safety_checker: [null, null],
    feature_extractor: [null, null],
    requires_safety_checker: false,
  });
  json('scheduler/scheduler_config.json', { _class_name: 'EulerDiscreteScheduler', ...SD_SCHEDULER_CONFIG, prediction_type: arch.prediction });
  const u = arch.unet;
  json('unet/config.json', {
    in_channels: u.inChannels,
    out_channels: u.outChannels,
    block_out_channels: u.channelMult.map((m) => m * u.modelChannels),
    layers_per_block: u.numResBlocks,
    cross_attention_dim: u.contextDim,
    ...('count' in u.heads ? { attention_head_dim: u.heads.count } : { attention_head_dim: u.channelMult.map((m) => (m * u.modelChannels) / (u.heads as { headChannels: number }).headChannels) }),
    transformer_layers_per_block: u.transformerDepth,
    use_linear_projection: u.linearProjection,
    norm_num_groups: u.normGroups,
    prediction_type: arch.prediction,
    ...(u.additionTimeEmbedDim ? { addition_time_embed_dim: u.additionTimeEmbedDim, projection_class_embeddings_input_dim: u.admInChannels } : {}),
  });
  const v = arch.vaeDecoder;
  json('vae_decoder/config.json', {
    latent_channels: v.latentChannels,
    out_channels: v.outChannels,
    block_out_channels: v.channelMult.map((m) => m * v.baseChannels),
    layers_per_block: v.numResBlocks,
    norm_num_groups: v.normGroups,
    scaling_factor: v.scalingFactor,
  });
  arch.textEncoders.forEach((te, i) => {
    json(`${i === 0 ? 'text_encoder' : 'text_encoder_2'}/config.json`, {
      hidden_size: te.width,
      num_hidden_layers: te.layers,
      num_attention_heads: te.heads,
      intermediate_size: te.ffWidth,
      vocab_size: te.vocabSize,
      max_position_embeddings: te.positions,
      hidden_act: te.activation,
      ...(te.projectionDim ? { projection_dim: te.projectionDim } : {}),
    });
  });
  const clip = bundledClipFolder();
  if (!clip) throw new Error('the CLIP tokenizer shipped with sd-prompt (resources/clip) is missing: reinstall sd-prompt');
  for (const folder of sdxl ? ['tokenizer', 'tokenizer_2'] : ['tokenizer']) {
    fs.mkdirSync(path.join(out, folder), { recursive: true });
    for (const file of fs.readdirSync(clip)) fs.copyFileSync(path.join(clip, file), path.join(out, folder, file));
  }
}
