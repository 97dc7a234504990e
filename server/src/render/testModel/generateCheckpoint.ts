import * as fs from 'fs';
import * as path from 'path';
import { ldmKeys, ldmKeyTable, textEncoderPrefixes, VAE_PREFIX } from '../checkpoint/ldmKeyTable';
import { sd2PredictionHintKey } from '../checkpoint/prediction';
import { floatToHalf } from '../onnx/half';
import { SdArchitecture, TextEncoderArchitecture, VaeDecoderArchitecture } from '../sdGraphs/architecture';

/**
 * Writes single-file checkpoints in the original LDM key layout (what A1111's models/Stable-diffusion holds) from
 * an SdArchitecture, with random weights that depend only on the seed and each key: tiny ones for tests, the
 * SD1.5-sized one (~2 GB in fp16) for benches, written piece by piece so memory stays small. The keys come from
 * the same table the checkpoint reader uses (render/checkpoint/ldmKeyTable.ts), plus what real files also carry
 * and the reader must ignore: the VAE encoder, and optionally `model_ema.*`, `alphas_cumprod` and CLIP's int64
 * `position_ids`.
 */

export type CheckpointDtype = 'F32' | 'F16' | 'BF16';

export interface CheckpointSpec {
  architecture: SdArchitecture;
  dtype: CheckpointDtype;
  seed: number;
  /** model_ema.decay / num_updates and EMA copies of two UNet weights, alphas_cumprod, position_ids (int64). */
  extras?: boolean;
  /** Leave the VAE encoder (and quant_conv) out, as decoder-only VAE files do. */
  vaeDecoderOnly?: boolean;
  metadata?: Record<string, string>;
  /** Keys to leave out (tests of a damaged or partial file). */
  omitKeys?: readonly string[];
}

// ---- architectures ------------------------------------------------------------------------------------

const CLIP_L: TextEncoderArchitecture = { kind: 'clip', width: 768, layers: 12, heads: 12, ffWidth: 3072, vocabSize: 49408, positions: 77, activation: 'quick_gelu' };
const SD_VAE: VaeDecoderArchitecture = { latentChannels: 4, baseChannels: 128, channelMult: [1, 2, 4, 4], numResBlocks: 2, outChannels: 3, normGroups: 32, scalingFactor: 0.18215 };

/** Every module at SD1.5's shape (v1-5-pruned-emaonly): CLIP-L, the 859.5 M-parameter UNet, the KL-f8 VAE. */
export const SD15_ARCHITECTURE: SdArchitecture = {
  family: 'sd1',
  prediction: 'epsilon',
  textEncoders: [CLIP_L],
  unet: {
    inChannels: 4,
    outChannels: 4,
    modelChannels: 320,
    channelMult: [1, 2, 4, 4],
    numResBlocks: 2,
    transformerDepth: [1, 1, 1, 0],
    middleTransformerDepth: 1,
    contextDim: 768,
    heads: { count: 8 },
    linearProjection: false,
    normGroups: 32,
  },
  vaeDecoder: SD_VAE,
};

/** SD 2.1 (768-v): OpenCLIP-H (24 layers in the file), linear projections, 64-wide heads. */
export const SD21_ARCHITECTURE: SdArchitecture = {
  family: 'sd2',
  prediction: 'v_prediction',
  textEncoders: [{ kind: 'openclip', width: 1024, layers: 24, heads: 16, ffWidth: 4096, vocabSize: 49408, positions: 77, activation: 'gelu' }],
  unet: { ...SD15_ARCHITECTURE.unet, contextDim: 1024, heads: { headChannels: 64 }, linearProjection: true },
  vaeDecoder: SD_VAE,
};

/** SDXL base 1.0: CLIP-L + OpenCLIP-bigG, UNet 320·[1, 2, 4] with 0/2/10 transformer blocks. */
export const SDXL_ARCHITECTURE: SdArchitecture = {
  family: 'sdxl',
  prediction: 'epsilon',
  textEncoders: [CLIP_L, { kind: 'openclip', width: 1280, layers: 32, heads: 20, ffWidth: 5120, vocabSize: 49408, positions: 77, activation: 'gelu', projectionDim: 1280 }],
  unet: {
    ...SD15_ARCHITECTURE.unet,
    channelMult: [1, 2, 4],
    transformerDepth: [0, 2, 10],
    middleTransformerDepth: 10,
    contextDim: 2048,
    heads: { headChannels: 64 },
    linearProjection: true,
    admInChannels: 2816,
    additionTimeEmbedDim: 256,
  },
  vaeDecoder: { ...SD_VAE, scalingFactor: 0.13025 },
};

/**
 * Tiny models with the released constants: widths are multiples of 32 (GroupNorm's 32 groups) and, where heads
 * are 64 wide, of 64, so every head count is a whole number. CLIP's real vocabulary (49408) so real token ids work.
 */
const TINY_VAE: VaeDecoderArchitecture = { ...SD_VAE, baseChannels: 32, channelMult: [1, 1, 2, 2], numResBlocks: 1 };
const TINY_CLIP: TextEncoderArchitecture = { kind: 'clip', width: 64, layers: 2, heads: 1, ffWidth: 256, vocabSize: 49408, positions: 77, activation: 'quick_gelu' };

export const TINY_SD1_ARCHITECTURE: SdArchitecture = {
  family: 'sd1',
  prediction: 'epsilon',
  textEncoders: [TINY_CLIP],
  unet: {
    inChannels: 4,
    outChannels: 4,
    modelChannels: 32,
    channelMult: [1, 2],
    numResBlocks: 1,
    transformerDepth: [1, 0],
    middleTransformerDepth: 1,
    contextDim: 64,
    heads: { count: 8 },
    linearProjection: false,
    normGroups: 32,
  },
  vaeDecoder: TINY_VAE,
};

export const TINY_SD2_ARCHITECTURE: SdArchitecture = {
  family: 'sd2',
  prediction: 'epsilon',
  textEncoders: [{ ...TINY_CLIP, kind: 'openclip', activation: 'gelu' }],
  unet: { ...TINY_SD1_ARCHITECTURE.unet, modelChannels: 64, heads: { headChannels: 64 }, linearProjection: true },
  vaeDecoder: TINY_VAE,
};

export const TINY_SDXL_ARCHITECTURE: SdArchitecture = {
  family: 'sdxl',
  prediction: 'epsilon',
  textEncoders: [TINY_CLIP, { kind: 'openclip', width: 128, layers: 2, heads: 2, ffWidth: 512, vocabSize: 49408, positions: 77, activation: 'gelu', projectionDim: 128 }],
  unet: {
    ...TINY_SD2_ARCHITECTURE.unet,
    transformerDepth: [0, 2],
    middleTransformerDepth: 2,
    contextDim: 192,
    admInChannels: 128 + 6 * 8,
    additionTimeEmbedDim: 8,
  },
  vaeDecoder: { ...TINY_VAE, scalingFactor: 0.13025 },
};

// ---- the key list -------------------------------------------------------------------------------------

export interface CheckpointTensor {
  key: string;
  shape: number[];
  dtype: CheckpointDtype | 'I64' | 'I32';
}

/** The VAE encoder's keys (never read by txt2img, present in full checkpoints). */
function vaeEncoderKeys(vae: VaeDecoderArchitecture): { key: string; shape: number[] }[] {
  const E = `${VAE_PREFIX}encoder.`;
  const out: { key: string; shape: number[] }[] = [];
  const conv = (key: string, o: number, i: number, k: number) => out.push({ key: `${key}.weight`, shape: [o, i, k, k] }, { key: `${key}.bias`, shape: [o] });
  const norm = (key: string, c: number) => out.push({ key: `${key}.weight`, shape: [c] }, { key: `${key}.bias`, shape: [c] });
  const resnet = (key: string, i: number, o: number) => {
    norm(`${key}.norm1`, i);
    conv(`${key}.conv1`, o, i, 3);
    norm(`${key}.norm2`, o);
    conv(`${key}.conv2`, o, o, 3);
    if (i !== o) conv(`${key}.nin_shortcut`, o, i, 1);
  };
  const widths = vae.channelMult.map((m) => m * vae.baseChannels);
  let c = vae.baseChannels;
  conv(`${E}conv_in`, c, vae.outChannels, 3);
  widths.forEach((w, level) => {
    for (let j = 0; j < vae.numResBlocks; j++) {
      resnet(`${E}down.${level}.block.${j}`, c, w);
      c = w;
    }
    if (level < widths.length - 1) conv(`${E}down.${level}.downsample.conv`, c, c, 3);
  });
  resnet(`${E}mid.block_1`, c, c);
  norm(`${E}mid.attn_1.norm`, c);
  for (const p of ['q', 'k', 'v', 'proj_out']) conv(`${E}mid.attn_1.${p}`, c, c, 1);
  resnet(`${E}mid.block_2`, c, c);
  norm(`${E}norm_out`, c);
  conv(`${E}conv_out`, 2 * vae.latentChannels, c, 3);
  conv(`${VAE_PREFIX}quant_conv`, 2 * vae.latentChannels, 2 * vae.latentChannels, 1);
  return out;
}

/** Every tensor the file will hold, in file order. */
export function checkpointTensors(spec: CheckpointSpec): CheckpointTensor[] {
  const arch = spec.architecture;
  const tensors: CheckpointTensor[] = ldmKeys(ldmKeyTable(arch)).map(({ key, shape }) => ({ key, shape, dtype: spec.dtype }));
  if (!spec.vaeDecoderOnly) tensors.push(...vaeEncoderKeys(arch.vaeDecoder).map(({ key, shape }) => ({ key, shape, dtype: spec.dtype })));
  if (arch.family === 'sdxl' && arch.prediction === 'v_prediction') tensors.push({ key: 'v_pred', shape: [], dtype: 'F32' });
  if (spec.extras) {
    tensors.push({ key: 'alphas_cumprod', shape: [1000], dtype: 'F32' });
    tensors.push({ key: 'model_ema.decay', shape: [], dtype: 'F32' });
    tensors.push({ key: 'model_ema.num_updates', shape: [], dtype: 'I32' });
    // EMA copies are named with the dots removed, as LDM's LitEma stores them.
    tensors.push({ key: 'model_ema.diffusion_modelinput_blocks00weight', shape: tensors.find((t) => t.key === 'model.diffusion_model.input_blocks.0.0.weight')!.shape, dtype: spec.dtype });
    tensors.push({ key: 'model_ema.diffusion_modelout2bias', shape: [arch.unet.outChannels], dtype: spec.dtype });
    arch.textEncoders.forEach((te, i) => {
      if (te.kind === 'clip') tensors.push({ key: `${textEncoderPrefixes(arch)[i]}text_model.embeddings.position_ids`, shape: [1, te.positions], dtype: 'I64' });
    });
  }
  const omit = new Set(spec.omitKeys ?? []);
  return omit.size === 0 ? tensors : tensors.filter((t) => !omit.has(t.key));
}

// ---- values -------------------------------------------------------------------------------------------

/** FNV-1a of the key mixed with the seed: each tensor's stream is independent of the others and of file order. */
function tensorSeed(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: uniform in [-1, 1). */
function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** What a value of the tensor is: a norm's scale sits near 1, biases near 0, weights scaled by 1/√fan-in so activations stay finite. */
function valueRule(spec: CheckpointSpec, key: string, shape: number[]): { offset: number; scale: number } {
  const arch = spec.architecture;
  if (key === 'alphas_cumprod' || key === 'model_ema.decay' || key === 'v_pred') return { offset: 0, scale: 0 };
  // Every 1-D `.weight` of an SD checkpoint is a norm's scale (GroupNorm, LayerNorm); Linear and Conv weights are 2-D or more.
  if (shape.length === 1 && key.endsWith('.weight')) return { offset: 1, scale: 0.05 };
  if (arch.family === 'sd2' && key === sd2PredictionHintKey(arch)) {
    // The bias whose spread ComfyUI reads to tell v from eps (prediction.ts): wide for v, narrow for eps.
    return { offset: 0, scale: arch.prediction === 'v_prediction' ? 0.4 : 0.05 };
  }
  if (shape.length <= 1) return { offset: 0, scale: 0.05 };
  if (/token_embedding|position_embedding|positional_embedding/.test(key)) return { offset: 0, scale: 0.05 };
  const fanIn = key.endsWith('text_projection') ? shape[0] : shape.slice(1).reduce((a, b) => a * b, 1);
  return { offset: 0, scale: Math.sqrt(3 / fanIn) };
}

/** SD's noise schedule (scaled linear betas 0.00085 → 0.012 over 1000 steps), as the LDM configs write it. */
function alphasCumprod(): Float32Array {
  const out = new Float32Array(1000);
  let product = 1;
  for (let i = 0; i < 1000; i++) {
    const beta = (Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999) ** 2;
    product *= 1 - beta;
    out[i] = product;
  }
  return out;
}

/** Fills `out` with the next values of a tensor's stream. */
type Filler = (out: Float32Array) => void;

function filler(spec: CheckpointSpec, tensor: CheckpointTensor): Filler {
  if (tensor.key === 'alphas_cumprod') {
    const all = alphasCumprod();
    let at = 0;
    return (out) => {
      out.set(all.subarray(at, at + out.length));
      at += out.length;
    };
  }
  if (tensor.key === 'model_ema.decay') return (out) => out.fill(0.9999);
  if (tensor.key === 'v_pred') return (out) => out.fill(0);
  const { offset, scale } = valueRule(spec, tensor.key, tensor.shape);
  const next = uniformStream(tensorSeed(spec.seed, tensor.key));
  return (out) => {
    for (let i = 0; i < out.length; i++) out[i] = offset + scale * next();
  };
}

/** bfloat16 bits of a float32, rounded to nearest even (as torch's .to(torch.bfloat16)). */
export function floatToBfloat16(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

const ELEMENT_BYTES = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 } as const;

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function encode(values: Float32Array, dtype: CheckpointTensor['dtype'], counterStart: number): Uint8Array {
  switch (dtype) {
    case 'F32':
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const b = bits[i];
        // Round to nearest even; NaN stays a (quiet) NaN.
        out[i] = (b & 0x7f800000) === 0x7f800000 && b & 0x7fffff ? (b >>> 16) | 0x40 : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
      }
      return new Uint8Array(out.buffer);
    }
    case 'I64': {
      // position_ids: 0, 1, 2, ...
      const out = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = BigInt(counterStart + i);
      return new Uint8Array(out.buffer);
    }
    case 'I32':
      return new Uint8Array(new Int32Array(values.length).fill(1000).buffer);
  }
}

/** The float32 values the generator writes under `key` before they are stored in the file's dtype. */
export function generatedValues(spec: CheckpointSpec, key: string): Float32Array {
  const tensor = checkpointTensors(spec).find((t) => t.key === key);
  if (tensor === undefined) throw new Error(`the generated checkpoint has no "${key}"`);
  const values = new Float32Array(elementCount(tensor.shape));
  filler(spec, tensor)(values);
  return values;
}

// ---- writing ------------------------------------------------------------------------------------------

const CHUNK_ELEMENTS = 1 << 20;

/**
 * Writes the checkpoint to `file` (its folder is created) and returns its size. Streams: one chunk of at most
 * 1 Mi elements is in memory at a time, whatever the model's size.
 */
export function writeCheckpoint(file: string, spec: CheckpointSpec): { bytes: number; tensors: number } {
  const tensors = checkpointTensors(spec);
  const header: Record<string, unknown> = {};
  if (spec.metadata) header.__metadata__ = spec.metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = elementCount(t.shape) * ELEMENT_BYTES[t.dtype];
    header[t.key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // The safetensors writer pads the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  try {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(headerBytes.length));
    fs.writeSync(fd, prefix);
    fs.writeSync(fd, headerBytes);
    const chunk = new Float32Array(CHUNK_ELEMENTS);
    for (const t of tensors) {
      const fill = filler(spec, t);
      const total = elementCount(t.shape);
      for (let done = 0; done < total; done += CHUNK_ELEMENTS) {
        const part = chunk.subarray(0, Math.min(CHUNK_ELEMENTS, total - done));
        fill(part);
        fs.writeSync(fd, encode(part, t.dtype, done));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes: 8 + headerBytes.length + offset, tensors: tensors.length };
}
