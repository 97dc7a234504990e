import * as fs from 'fs';
import * as path from 'path';
import { SdArchitecture, TextEncoderArchitecture } from '../sdGraphs/architecture';
import { BuiltGraph } from '../sdGraphs/graphOptions';
import { FloatType, LinearRecord } from '../sdGraphs/net';
import { checkArchitecture } from '../sdGraphs/pipelineGraphs';
import { buildTextEncoder } from '../sdGraphs/textEncoder';
import { buildUnet } from '../sdGraphs/unet';
import { buildVaeDecoder } from '../sdGraphs/vaeDecoder';

/**
 * Generates random-weight Stable Diffusion pipelines in the diffusers ONNX folder layout
 * (what optimum and diffusers' ONNX exporter write) for render tests and benchmarks. The
 * graphs follow diffusers' UNet2DConditionModel / AutoencoderKL decoder and transformers'
 * CLIPTextModel topologies with torch.onnx naming, at any width: tiny for tests (hundreds
 * of KB of UNet), SD1.5-sized for benchmarks (every module at SD1.5's real shape, so a LoRA
 * key manifest maps onto it).
 */

export type Base = 'sd15' | 'sd2' | 'sdxl';

export interface PipelineConfig {
  base: Base;
  /** Text encoder width D, also the UNet's cross-attention width (SD1: 768, SD2: 1024). */
  hiddenSize: number;
  /** Text encoder layers (SD1: 12). */
  layers: number;
  /** Text encoder heads (SD1: 12). */
  textHeads: number;
  /** UNet base channels (SD: 320). */
  channels: number;
  /** Per-block channel multipliers (SD: [1, 2, 4, 4]). */
  channelMult: number[];
  /** Which down blocks are CrossAttnDownBlock2D; up blocks mirror (SD1.5: [true, true, true, false]). */
  crossAttention: boolean[];
  /** BasicTransformerBlocks per attention, per block (SD1/2: 1; SDXL: [0, 2, 10]). */
  transformerDepth?: number[];
  layersPerBlock: number;
  /** UNet attention heads (SD1.5: 8 everywhere) or, when `unetHeadDim` is set, channels per head (SD2/SDXL: 64). */
  unetHeads: number;
  unetHeadDim?: number;
  normGroups: number;
  /** VAE decoder block channels, encoder order (SD: [128, 256, 512, 512]); three upsamplers need four blocks. */
  vaeChannels: number[];
  vaeLayersPerBlock: number;
  vaeNormGroups: number;
  /** SDXL's second text encoder width (1280) and its pooled projection width (1280). */
  hiddenSize2?: number;
  layers2?: number;
  textHeads2?: number;
  /** SDXL: width of each time_ids sinusoid (256). */
  additionTimeEmbedDim?: number;
  dtype: 'fp32' | 'fp16';
  inputIdsType: 'int32' | 'int64';
  timestepType: 'float' | 'int64';
  /** Put the UNet's weights into `unet/model.onnx_data` (the text encoder and VAE stay inline, as optimum writes them). */
  externalData: boolean;
  seed: number;
  /** A folder with CLIP's `vocab.json` and `merges.txt` to copy into `tokenizer/` (and `tokenizer_2/` for SDXL). */
  tokenizerFrom?: string;
  scheduler?: 'PNDMScheduler' | 'EulerDiscreteScheduler';
  /** CLIP's vocabulary (49408): real token ids, EOS 49407 included, must index the embedding. */
  vocabSize?: number;
}

/** Tiny SD1.5-shaped pipeline for tests: a 64×64 render runs in milliseconds. */
export const TINY_SD15: PipelineConfig = {
  base: 'sd15',
  hiddenSize: 32,
  layers: 2,
  textHeads: 2,
  channels: 16,
  channelMult: [1, 2],
  crossAttention: [true, false],
  layersPerBlock: 1,
  unetHeads: 2,
  normGroups: 4,
  vaeChannels: [8, 8, 16, 16],
  vaeLayersPerBlock: 1,
  vaeNormGroups: 4,
  dtype: 'fp32',
  inputIdsType: 'int32',
  timestepType: 'float',
  externalData: true,
  seed: 1,
};

/** Every module at SD1.5's real shape (text encoder, UNet, VAE decoder): about 1.03 B parameters (UNet 859.5 M, as SD1.5), 4.1 GB in fp32. */
export const SD15_SIZED: PipelineConfig = {
  base: 'sd15',
  hiddenSize: 768,
  layers: 12,
  textHeads: 12,
  channels: 320,
  channelMult: [1, 2, 4, 4],
  crossAttention: [true, true, true, false],
  layersPerBlock: 2,
  unetHeads: 8,
  normGroups: 32,
  vaeChannels: [128, 256, 512, 512],
  vaeLayersPerBlock: 2,
  vaeNormGroups: 32,
  dtype: 'fp32',
  inputIdsType: 'int32',
  timestepType: 'float',
  externalData: true,
  seed: 1,
};

/** Tiny SD2-style: linear proj_in/proj_out, head dim instead of head count, gelu CLIP. */
export const TINY_SD2: PipelineConfig = { ...TINY_SD15, base: 'sd2', unetHeadDim: 8 };

/** Tiny SDXL-shaped: two text encoders, `text_embeds` and `time_ids` inputs, no attention in the first block. */
export const TINY_SDXL: PipelineConfig = {
  ...TINY_SD15,
  base: 'sdxl',
  hiddenSize2: 64,
  layers2: 2,
  textHeads2: 2,
  crossAttention: [false, true],
  transformerDepth: [0, 2],
  unetHeadDim: 8,
  additionTimeEmbedDim: 8,
  timestepType: 'float',
  scheduler: 'EulerDiscreteScheduler',
};

/**
 * SDXL base's shapes (CLIP-L 768 ×12 and OpenCLIP-bigG 1280 ×32, UNet 320·[1, 2, 4] with 0/2/10
 * transformer blocks, head dim 64): for checking LoRA files against the graph with
 * buildPipelineGraphs only. Written out it would be ~10 GB.
 */
export const SDXL_SIZED: PipelineConfig = {
  ...SD15_SIZED,
  base: 'sdxl',
  hiddenSize2: 1280,
  layers2: 32,
  textHeads2: 20,
  channelMult: [1, 2, 4],
  crossAttention: [false, true, true],
  transformerDepth: [0, 2, 10],
  unetHeadDim: 64,
  additionTimeEmbedDim: 256,
  timestepType: 'float',
  scheduler: 'EulerDiscreteScheduler',
};

export interface GeneratedModel {
  /** Path relative to the pipeline folder. */
  file: string;
  bytes: number;
  externalFile?: string;
  externalBytes?: number;
  /** Every Linear/Conv weight with its module path, initializer and consuming node. */
  linears: LinearRecord[];
  inputs: string[];
  outputs: string[];
}

export interface GeneratedPipeline {
  folder: string;
  models: Record<string, GeneratedModel>;
}

const MAX_POSITIONS = 77;

function floatType(config: PipelineConfig): FloatType {
  return config.dtype === 'fp16' ? 'float16' : 'float32';
}

// ---------------------------------------------------------------------------------------
// Graphs: the production builders (render/sdGraphs) with random weights

/** A text encoder as the generator describes it (`buildPipelineGraphs` returns the first one's). */
export interface TextEncoderSpec {
  width: number;
  layers: number;
  heads: number;
  /** SD1's CLIP ViT-L uses quick_gelu; OpenCLIP (SD2, SDXL's second encoder) uses gelu. */
  act: 'quick_gelu' | 'gelu';
  /** SDXL exports every layer's hidden states (`hidden_states.N`) for the penultimate-layer conditioning. */
  hiddenStates: boolean;
  /** CLIPTextModelWithProjection: `text_embeds` = text_projection(pooled), instead of `pooler_output`. */
  projection?: number;
}

/** A built graph and the Linear/Conv weights in it. */
export type Built = BuiltGraph;

function textEncoderArchitecture(config: PipelineConfig, spec: TextEncoderSpec): TextEncoderArchitecture {
  return {
    kind: spec.act === 'quick_gelu' ? 'clip' : 'openclip',
    width: spec.width,
    layers: spec.layers,
    heads: spec.heads,
    ffWidth: 4 * spec.width,
    vocabSize: config.vocabSize ?? 49408,
    positions: MAX_POSITIONS,
    activation: spec.act,
    ...(spec.projection ? { projectionDim: spec.projection } : {}),
  };
}

function textEncoderSpecs(config: PipelineConfig): TextEncoderSpec[] {
  const sdxl = config.base === 'sdxl';
  const te1: TextEncoderSpec = {
    width: config.hiddenSize,
    layers: config.layers,
    heads: config.textHeads,
    act: config.base === 'sd15' || sdxl ? 'quick_gelu' : 'gelu',
    hiddenStates: sdxl,
  };
  if (!sdxl) return [te1];
  const D2 = config.hiddenSize2 ?? 1280;
  return [te1, { width: D2, layers: config.layers2 ?? config.layers, heads: config.textHeads2 ?? config.textHeads, act: 'gelu', hiddenStates: true, projection: D2 }];
}

/** The architecture a generator config describes, in the terms a checkpoint's is read in. */
export function architectureOf(config: PipelineConfig): SdArchitecture {
  const sdxl = config.base === 'sdxl';
  const specs = textEncoderSpecs(config);
  const tdim = config.additionTimeEmbedDim ?? 256;
  const contextDim = specs.reduce((sum, s) => sum + s.width, 0);
  const pooledDim = sdxl ? specs[1].width : 0;
  const depths = config.crossAttention.map((a, i) => (a ? (config.transformerDepth?.[i] ?? 1) : 0));
  const vaeBase = config.vaeChannels[0];
  return {
    family: config.base === 'sd15' ? 'sd1' : config.base,
    prediction: 'epsilon',
    textEncoders: specs.map((spec) => textEncoderArchitecture(config, spec)),
    unet: {
      inChannels: 4,
      outChannels: 4,
      modelChannels: config.channels,
      channelMult: config.channelMult,
      numResBlocks: config.layersPerBlock,
      transformerDepth: depths,
      middleTransformerDepth: config.transformerDepth ? config.transformerDepth[config.transformerDepth.length - 1] : 1,
      contextDim,
      heads: config.unetHeadDim ? { headChannels: config.unetHeadDim } : { count: config.unetHeads },
      linearProjection: config.base !== 'sd15',
      ...(sdxl ? { admInChannels: pooledDim + 6 * tdim, additionTimeEmbedDim: tdim } : {}),
      normGroups: config.normGroups,
    },
    vaeDecoder: {
      latentChannels: 4,
      baseChannels: vaeBase,
      channelMult: config.vaeChannels.map((c) => c / vaeBase),
      numResBlocks: config.vaeLayersPerBlock,
      outChannels: 3,
      normGroups: config.vaeNormGroups,
      scalingFactor: sdxl ? 0.13025 : 0.18215,
    },
  };
}

// ---------------------------------------------------------------------------------------
// Folder

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function schedulerConfig(config: PipelineConfig): Record<string, unknown> {
  return diffusersSchedulerConfig(config.scheduler ?? (config.base === 'sdxl' ? 'EulerDiscreteScheduler' : 'PNDMScheduler'));
}

/** `scheduler/scheduler_config.json` as diffusers writes it for SD's schedule (scaled-linear betas 0.00085-0.012). */
export function diffusersSchedulerConfig(name: string): Record<string, unknown> {
  const common = {
    _class_name: name,
    _diffusers_version: '0.27.2',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    steps_offset: 1,
    trained_betas: null,
  };
  if (name === 'PNDMScheduler') return { ...common, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, timestep_spacing: 'leading' };
  return { ...common, interpolation_type: 'linear', sample_max_value: 1.0, timestep_spacing: 'leading', use_karras_sigmas: false, clip_sample: false, set_alpha_to_one: false };
}

export function copyTokenizer(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const file of ['vocab.json', 'merges.txt']) {
    const src = path.join(from, file);
    if (!fs.existsSync(src)) throw new Error(`tokenizerFrom: ${src} does not exist`);
    // Read and write rather than copyFileSync: that keeps the source's mode, and read-only
    // fixtures would make the next generation into the same folder fail.
    fs.writeFileSync(path.join(to, file), fs.readFileSync(src));
  }
  // What transformers' CLIPTokenizer save_pretrained writes next to them (SD1.5's values).
  writeJson(path.join(to, 'special_tokens_map.json'), {
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
  });
  writeJson(path.join(to, 'tokenizer_config.json'), { model_max_length: 77, tokenizer_class: 'CLIPTokenizer', do_lower_case: true });
}

function record(folder: string, file: string, { model, linears }: Built, externalData: boolean): GeneratedModel {
  const full = path.join(folder, file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  const externalFile = externalData ? 'model.onnx_data' : undefined;
  // A stale data file from an earlier generation would sit beside a model that no longer uses it.
  if (!externalFile) fs.rmSync(path.join(path.dirname(full), 'model.onnx_data'), { force: true });
  const written = model.write(full, externalFile ? { externalDataFile: externalFile } : {});
  return {
    file,
    bytes: written.modelBytes,
    ...(externalFile ? { externalFile: path.join(path.dirname(file), externalFile), externalBytes: written.externalBytes } : {}),
    linears,
    inputs: model.graph.inputs.map((i) => i.name),
    outputs: model.graph.outputs.map((o) => o.name),
  };
}

/** One model of a pipeline, built but not written: its weights are made only when written. */
export interface PipelineGraph extends Built {
  file: string;
  externalData: boolean;
}

/**
 * Build every graph of a pipeline without writing or making any weights (initializers are
 * lazy), e.g. to list SD15_SIZED's Linear layers for a LoRA manifest without 4 GB of writes.
 */
export function buildPipelineGraphs(config: PipelineConfig): {
  graphs: Record<string, PipelineGraph>;
  contextDim: number;
  pooledDim: number;
  te1: TextEncoderSpec;
} {
  if (config.vaeChannels.length !== 4) throw new Error('vaeChannels needs four blocks: the decoder upsamples ×8 in three steps');
  if (config.crossAttention.length !== config.channelMult.length) throw new Error('crossAttention needs one flag per channelMult block');
  const arch = architectureOf(config);
  checkArchitecture(arch);
  const dtype = floatType(config);
  const specs = textEncoderSpecs(config);
  const graphs: Record<string, PipelineGraph> = {};
  specs.forEach((spec, i) => {
    const key = i === 0 ? 'text_encoder' : 'text_encoder_2';
    const built = buildTextEncoder(arch.textEncoders[i], {
      dtype,
      weights: { kind: 'random', seed: config.seed + (i === 0 ? 0 : 50) },
      inputIdsType: config.inputIdsType,
      hiddenStates: spec.hiddenStates,
    });
    graphs[key] = { file: `${key}/model.onnx`, ...built, externalData: false };
  });
  const unet = buildUnet(arch.unet, { dtype, weights: { kind: 'random', seed: config.seed + 100 }, timestepType: config.timestepType });
  graphs.unet = { file: 'unet/model.onnx', ...unet, externalData: config.externalData };
  const vae = buildVaeDecoder(arch.vaeDecoder, { dtype, weights: { kind: 'random', seed: config.seed + 200 }, resnetEps: 1e-5 });
  graphs.vae_decoder = { file: 'vae_decoder/model.onnx', ...vae, externalData: false };
  const contextDim = arch.unet.contextDim;
  const pooledDim = specs[1]?.width ?? 0;
  const te1 = specs[0];
  return { graphs, contextDim, pooledDim, te1 };
}

/**
 * Write a random-weight pipeline into `folder` (created if needed). Returns what was written
 * and the Linear/Conv layout of each model. Same config and seed → byte-identical files.
 */
export function generateTinyPipeline(folder: string, config: PipelineConfig): GeneratedPipeline {
  fs.mkdirSync(folder, { recursive: true });
  const sdxl = config.base === 'sdxl';
  const { graphs, contextDim, pooledDim, te1 } = buildPipelineGraphs(config);
  const models: Record<string, GeneratedModel> = {};
  for (const [key, built] of Object.entries(graphs)) models[key] = record(folder, built.file, built, built.externalData);


  const scheduler = schedulerConfig(config);
  writeJson(path.join(folder, 'scheduler/scheduler_config.json'), scheduler);
  if (config.tokenizerFrom) {
    copyTokenizer(config.tokenizerFrom, path.join(folder, 'tokenizer'));
    if (sdxl) copyTokenizer(config.tokenizerFrom, path.join(folder, 'tokenizer_2'));
  }

  const blockC = config.channelMult.map((m) => m * config.channels);
  writeJson(path.join(folder, 'unet/config.json'), {
    _class_name: 'UNet2DConditionModel',
    in_channels: 4,
    out_channels: 4,
    block_out_channels: blockC,
    layers_per_block: config.layersPerBlock,
    cross_attention_dim: contextDim,
    attention_head_dim: config.unetHeadDim ? blockC.map((c) => c / (config.unetHeadDim as number)) : config.unetHeads,
    use_linear_projection: config.base !== 'sd15',
    down_block_types: config.crossAttention.map((a) => (a ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    up_block_types: [...config.crossAttention].reverse().map((a) => (a ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    transformer_layers_per_block: config.crossAttention.map((_, i) => (config.crossAttention[i] ? (config.transformerDepth?.[i] ?? 1) : 1)),
    norm_num_groups: config.normGroups,
    sample_size: sdxl ? 128 : 64,
    ...(sdxl ? { addition_embed_type: 'text_time', addition_time_embed_dim: config.additionTimeEmbedDim ?? 256, projection_class_embeddings_input_dim: pooledDim + 6 * (config.additionTimeEmbedDim ?? 256) } : {}),
  });
  writeJson(path.join(folder, 'vae_decoder/config.json'), {
    _class_name: 'AutoencoderKL',
    latent_channels: 4,
    block_out_channels: config.vaeChannels,
    layers_per_block: config.vaeLayersPerBlock,
    norm_num_groups: config.vaeNormGroups,
    scaling_factor: sdxl ? 0.13025 : 0.18215,
  });
  const textConfig = (width: number, layers: number, heads: number, act: string, arch: string): Record<string, unknown> => ({
    architectures: [arch],
    hidden_size: width,
    intermediate_size: 4 * width,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    max_position_embeddings: MAX_POSITIONS,
    vocab_size: config.vocabSize ?? 49408,
    hidden_act: act,
    eos_token_id: 49407,
    bos_token_id: 49406,
  });
  writeJson(path.join(folder, 'text_encoder/config.json'), textConfig(te1.width, te1.layers, te1.heads, te1.act, 'CLIPTextModel'));
  if (sdxl) {
    writeJson(path.join(folder, 'text_encoder_2/config.json'), {
      ...textConfig(config.hiddenSize2 ?? 1280, config.layers2 ?? config.layers, config.textHeads2 ?? config.textHeads, 'gelu', 'CLIPTextModelWithProjection'),
      projection_dim: pooledDim,
    });
  }

  const index: Record<string, unknown> = {
    _class_name: sdxl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
    _diffusers_version: '0.27.2',
    scheduler: ['diffusers', scheduler._class_name],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
  if (sdxl) {
    index.text_encoder_2 = ['transformers', 'CLIPTextModelWithProjection'];
    index.tokenizer_2 = ['transformers', 'CLIPTokenizer'];
    index.force_zeros_for_empty_prompt = true;
  } else {
    index.safety_checker = [null, null];
    index.feature_extractor = [null, null];
    index.requires_safety_checker = false;
  }
  writeJson(path.join(folder, 'model_index.json'), index);
  return { folder, models };
}
