import * as fs from 'fs';
import * as path from 'path';
import { ElemType, ModelBuilder } from '../onnx/onnxWriter';
import { FloatType, LinearRecord, Net } from './net';

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

/** Opset 17: torch's default export opset for SD, and the first with LayerNormalization. */
function newModel(): ModelBuilder {
  return new ModelBuilder(17, 'main_graph');
}

// ---------------------------------------------------------------------------------------
// Text encoder (transformers CLIPTextModel / CLIPTextModelWithProjection)

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

function buildTextEncoder(config: PipelineConfig, spec: TextEncoderSpec, seedOffset: number): Built {
  const model = newModel();
  const g = model.graph;
  const dt = floatType(config);
  const net = new Net(g, dt, config.seed + seedOffset);
  const D = spec.width;
  const vocab = config.vocabSize ?? 49408;
  const ids = g.input('input_ids', config.inputIdsType, ['batch_size', 'sequence_length']);

  // Embeddings: token Gather + position Gather over position_ids sliced to the sequence length.
  const E = '/text_model/embeddings';
  const tokW = net.randomWeight('text_model.embeddings.token_embedding.weight', [vocab, D], 0.02);
  const posW = net.randomWeight('text_model.embeddings.position_embedding.weight', [MAX_POSITIONS, D], 0.01);
  const posIds = g.initializer(
    'text_model.embeddings.position_ids',
    BigInt64Array.from({ length: MAX_POSITIONS }, (_, i) => BigInt(i)),
    [1, MAX_POSITIONS],
  );
  const idShape = net.op1(E, 'Shape', [ids]);
  const seqLen = net.op1(E, 'Slice', [idShape, net.i64([1]), net.i64([2]), net.i64([0])]);
  const posSlice = net.op1(E, 'Slice', [posIds, net.i64([0]), seqLen, net.i64([1])]);
  const tok = net.op1(`${E}/token_embedding`, 'Gather', [tokW, ids]);
  const pos = net.op1(`${E}/position_embedding`, 'Gather', [posW, posSlice]);
  let h = net.op1(E, 'Add', [tok, pos]);

  // Causal mask [S, S]: 0 on and below the diagonal, the dtype's most negative value above (torch's finfo.min).
  const neg = dt === 'float16' ? -65504 : -3.4028234663852886e38;
  const maskFull = new Float32Array(MAX_POSITIONS * MAX_POSITIONS);
  for (let i = 0; i < MAX_POSITIONS; i++) for (let j = i + 1; j < MAX_POSITIONS; j++) maskFull[i * MAX_POSITIONS + j] = neg;
  const maskInit = g.initializer(net.onnxName('Const'), net.floats(maskFull), [MAX_POSITIONS, MAX_POSITIONS]);
  const ends = net.op1('/text_model', 'Concat', [seqLen, seqLen], { axis: 0 });
  const mask = net.op1('/text_model', 'Slice', [maskInit, net.i64([0, 0]), ends, net.i64([0, 1])]);

  const hiddenStates: string[] = [h];
  for (let l = 0; l < spec.layers; l++) {
    const L = `/text_model/encoder/layers.${l}`;
    const n1 = net.layerNorm(`${L}/layer_norm1`, h, D);
    // CLIP scales q inside the attention; the net scales the scores instead, which is the same product.
    const a = net.attention(`${L}/self_attn`, n1, n1, D, D, spec.heads, { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' }, true, mask);
    h = net.op1(L, 'Add', [h, a]);
    const n2 = net.layerNorm(`${L}/layer_norm2`, h, D);
    const f1 = net.linear(`${L}/mlp/fc1`, n2, D, 4 * D, true);
    const act = spec.act === 'quick_gelu' ? net.quickGelu(`${L}/mlp/activation_fn`, f1) : net.gelu(`${L}/mlp/activation_fn`, f1);
    const f2 = net.linear(`${L}/mlp/fc2`, act, 4 * D, D, true);
    h = net.op1(L, 'Add', [h, f2]);
    hiddenStates.push(h);
  }
  const last = net.layerNorm('/text_model/final_layer_norm', h, D);
  const outType: ElemType = dt;
  g.node('Identity', [last], ['last_hidden_state'], {}, '/text_model/Identity_last');
  g.output('last_hidden_state', outType, ['batch_size', 'sequence_length', D]);

  // Pooled output at the EOS token: CLIP takes argmax(input_ids) since EOS has the largest id.
  const P = '/text_model';
  const eos = net.op1(P, 'ArgMax', [net.cast(P, ids, 'int32')], { axis: -1, keepdims: 1 });
  const pooled = net.op1(P, 'GatherND', [last, eos], { batch_dims: 1 });
  if (spec.projection) {
    const proj = net.randomWeight(net.onnxName('MatMul'), [D, spec.projection], 0.02);
    net.linears.push({ module: 'text_projection', initializer: proj, node: '/text_projection/MatMul', op: 'MatMul', dims: [D, spec.projection] });
    g.node('MatMul', [pooled, proj], ['text_embeds'], {}, '/text_projection/MatMul');
    g.output('text_embeds', outType, ['batch_size', spec.projection]);
  } else {
    g.node('Identity', [pooled], ['pooler_output'], {}, '/text_model/Identity_pooled');
    g.output('pooler_output', outType, ['batch_size', D]);
  }
  if (spec.hiddenStates) {
    hiddenStates.forEach((hs, i) => {
      g.node('Identity', [hs], [`hidden_states.${i}`], {}, `/text_model/Identity_hidden_${i}`);
      g.output(`hidden_states.${i}`, outType, ['batch_size', 'sequence_length', D]);
    });
  }
  return { model, linears: net.linears };
}

/** A built graph and the Linear/Conv weights in it. */
export interface Built {
  model: ModelBuilder;
  linears: LinearRecord[];
}

// ---------------------------------------------------------------------------------------
// UNet (diffusers UNet2DConditionModel)

interface Feature {
  t: string;
  c: number;
}

function unetHeads(config: PipelineConfig, c: number): number {
  return config.unetHeadDim ? c / config.unetHeadDim : config.unetHeads;
}

/** ResnetBlock2D: GN → SiLU → conv1 (+ time embedding) → GN → SiLU → conv2, plus a 1×1 shortcut when widths differ. */
function resnet(net: Net, config: PipelineConfig, scope: string, x: Feature, outC: number, temb: string | undefined, tembDim: number, groups: number): Feature {
  let h = net.silu(`${scope}/nonlinearity`, net.groupNorm(`${scope}/norm1`, x.t, x.c, groups));
  h = net.conv(`${scope}/conv1`, h, x.c, outC, 3);
  if (temb) {
    const t = net.gemm(`${scope}/time_emb_proj`, net.silu(`${scope}/nonlinearity`, temb), tembDim, outC);
    h = net.op1(scope, 'Add', [h, net.op1(scope, 'Unsqueeze', [t, net.i64([2, 3])])]);
  }
  h = net.silu(`${scope}/nonlinearity`, net.groupNorm(`${scope}/norm2`, h, outC, groups));
  h = net.conv(`${scope}/conv2`, h, outC, outC, 3);
  const shortcut = x.c === outC ? x.t : net.conv(`${scope}/conv_shortcut`, x.t, x.c, outC, 1);
  return { t: net.op1(scope, 'Add', [shortcut, h]), c: outC };
}

/** Transformer2DModel: GN → proj_in → BasicTransformerBlocks (attn1, attn2, GEGLU FF) → proj_out → + input. */
function transformer(net: Net, config: PipelineConfig, scope: string, x: Feature, context: string, contextDim: number, depth: number): Feature {
  const C = x.c;
  const linearProj = config.base !== 'sd15';
  const shape = net.op1(scope, 'Shape', [x.t]);
  let h = net.groupNorm(`${scope}/norm`, x.t, C, config.normGroups, 1e-6);
  const toTokens = (t: string): string => net.op1(scope, 'Transpose', [net.op1(scope, 'Reshape', [t, net.i64([0, C, -1])])], { perm: [0, 2, 1] });
  if (linearProj) h = net.linear(`${scope}/proj_in`, toTokens(h), C, C, true);
  else h = toTokens(net.conv(`${scope}/proj_in`, h, C, C, 1));
  const heads = unetHeads(config, C);
  const names = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
  for (let b = 0; b < depth; b++) {
    const B = `${scope}/transformer_blocks.${b}`;
    const n1 = net.layerNorm(`${B}/norm1`, h, C);
    const a1 = net.attention(`${B}/attn1`, n1, n1, C, C, heads, names, false);
    h = net.op1(B, 'Add', [a1, h]);
    const a2 = net.attention(`${B}/attn2`, net.layerNorm(`${B}/norm2`, h, C), context, C, contextDim, heads, names, false);
    h = net.op1(B, 'Add', [a2, h]);
    // GEGLU: proj to 8C, split, hidden * gelu(gate), then net.2 back to C.
    const n3 = net.layerNorm(`${B}/norm3`, h, C);
    const proj = net.linear(`${B}/ff/net.0/proj`, n3, C, 8 * C, true);
    const [hid, gate] = net.op(`${B}/ff/net.0`, 'Split', [proj, net.i64([4 * C, 4 * C])], { axis: -1 }, 2);
    const geglu = net.op1(`${B}/ff/net.0`, 'Mul', [hid, net.gelu(`${B}/ff/net.0`, gate)]);
    h = net.op1(B, 'Add', [net.linear(`${B}/ff/net.2`, geglu, 4 * C, C, true), h]);
  }
  const fromTokens = (t: string): string => net.op1(scope, 'Reshape', [net.op1(scope, 'Transpose', [t], { perm: [0, 2, 1] }), shape]);
  let out: string;
  if (linearProj) out = fromTokens(net.linear(`${scope}/proj_out`, h, C, C, true));
  else out = net.conv(`${scope}/proj_out`, fromTokens(h), C, C, 1);
  return { t: net.op1(scope, 'Add', [out, x.t]), c: C };
}

/** Sinusoidal embedding of a 1-D float32 tensor (flip_sin_to_cos, shift 0, as SD's Timesteps): [N] → [N, dim]. */
function sinusoid(net: Net, scope: string, t: string, dim: number): string {
  const half = dim / 2;
  const freqs = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const arg = net.op1(scope, 'Mul', [net.op1(scope, 'Unsqueeze', [t, net.i64([1])]), net.f32(freqs, [1, half])]);
  return net.op1(scope, 'Concat', [net.op1(scope, 'Cos', [arg]), net.op1(scope, 'Sin', [arg])], { axis: -1 });
}

function buildUnet(config: PipelineConfig, contextDim: number, pooledDim: number): Built {
  const model = newModel();
  const g = model.graph;
  const dt = floatType(config);
  const net = new Net(g, dt, config.seed + 100);
  const C0 = config.channels;
  const blockC = config.channelMult.map((m) => m * C0);
  const tembDim = 4 * C0;
  const depth = (i: number): number => (config.crossAttention[i] ? (config.transformerDepth?.[i] ?? 1) : 0);

  const sample = g.input('sample', dt, ['batch_size', 4, 'height', 'width']);
  // optimum exports `timestep` 1-D with a symbolic length ("steps"): diffusers feeds np.array([t]).
  const timestep = g.input('timestep', config.timestepType === 'int64' ? 'int64' : dt, ['steps']);
  const context = g.input('encoder_hidden_states', dt, ['batch_size', 'sequence_length', contextDim]);

  // Time embedding: sinusoid in float32 (fp16 cannot hold 999 · freq products precisely), then back to the graph type.
  let tproj = sinusoid(net, '/time_proj', net.cast('/time_proj', timestep, 'float32'), C0);
  if (dt === 'float16') tproj = net.cast('/time_proj', tproj, 'float16');
  let temb = net.gemm('/time_embedding/linear_1', tproj, C0, tembDim);
  temb = net.gemm('/time_embedding/linear_2', net.silu('/time_embedding/act', temb), tembDim, tembDim);

  if (config.base === 'sdxl') {
    // add_embedding over concat(text_embeds, sinusoid of each of the 6 time_ids), as SDXL's text_time embedding.
    const tdim = config.additionTimeEmbedDim ?? 256;
    const textEmbeds = g.input('text_embeds', dt, ['batch_size', pooledDim]);
    const timeIds = g.input('time_ids', dt, ['batch_size', 6]);
    const flat = net.op1('/add_time_proj', 'Reshape', [net.cast('/add_time_proj', timeIds, 'float32'), net.i64([-1])]);
    let tid = net.op1('/add_time_proj', 'Reshape', [sinusoid(net, '/add_time_proj', flat, tdim), net.i64([-1, 6 * tdim])]);
    if (dt === 'float16') tid = net.cast('/add_time_proj', tid, 'float16');
    const addIn = net.op1('', 'Concat', [textEmbeds, tid], { axis: -1 });
    let aemb = net.gemm('/add_embedding/linear_1', addIn, pooledDim + 6 * tdim, tembDim);
    aemb = net.gemm('/add_embedding/linear_2', net.silu('/add_embedding/act', aemb), tembDim, tembDim);
    temb = net.op1('', 'Add', [temb, aemb]);
  }

  let h: Feature = { t: net.conv('/conv_in', sample, 4, C0, 3), c: C0 };
  const skips: Feature[] = [h];
  blockC.forEach((outC, i) => {
    const S = `/down_blocks.${i}`;
    for (let j = 0; j < config.layersPerBlock; j++) {
      h = resnet(net, config, `${S}/resnets.${j}`, h, outC, temb, tembDim, config.normGroups);
      if (depth(i) > 0) h = transformer(net, config, `${S}/attentions.${j}`, h, context, contextDim, depth(i));
      skips.push(h);
    }
    if (i < blockC.length - 1) {
      h = { t: net.conv(`${S}/downsamplers.0/conv`, h.t, outC, outC, 3, 2), c: outC };
      skips.push(h);
    }
  });

  const mid = blockC[blockC.length - 1];
  h = resnet(net, config, '/mid_block/resnets.0', h, mid, temb, tembDim, config.normGroups);
  const midDepth = config.transformerDepth ? config.transformerDepth[config.transformerDepth.length - 1] : 1;
  if (midDepth > 0) h = transformer(net, config, '/mid_block/attentions.0', h, context, contextDim, midDepth);
  h = resnet(net, config, '/mid_block/resnets.1', h, mid, temb, tembDim, config.normGroups);

  const rev = [...blockC].reverse();
  rev.forEach((outC, i) => {
    const S = `/up_blocks.${i}`;
    const downIndex = blockC.length - 1 - i;
    for (let j = 0; j <= config.layersPerBlock; j++) {
      const skip = skips.pop() as Feature;
      const cat: Feature = { t: net.op1(S, 'Concat', [h.t, skip.t], { axis: 1 }), c: h.c + skip.c };
      h = resnet(net, config, `${S}/resnets.${j}`, cat, outC, temb, tembDim, config.normGroups);
      if (depth(downIndex) > 0) h = transformer(net, config, `${S}/attentions.${j}`, h, context, contextDim, depth(downIndex));
    }
    if (i < rev.length - 1) {
      const up = net.op1(`${S}/upsamplers.0`, 'Resize', [h.t, '', net.f32([1, 1, 2, 2])], {
        coordinate_transformation_mode: 'asymmetric',
        mode: 'nearest',
        nearest_mode: 'floor',
      });
      h = { t: net.conv(`${S}/upsamplers.0/conv`, up, outC, outC, 3), c: outC };
    }
  });

  const out = net.silu('/conv_act', net.groupNorm('/conv_norm_out', h.t, h.c, config.normGroups));
  const y = net.conv('/conv_out', out, h.c, 4, 3);
  g.node('Identity', [y], ['out_sample'], {}, '/Identity_out');
  g.output('out_sample', dt, ['batch_size', 4, 'height', 'width']);
  return { model, linears: net.linears };
}

// ---------------------------------------------------------------------------------------
// VAE decoder (diffusers AutoencoderKL: post_quant_conv + Decoder)

function buildVaeDecoder(config: PipelineConfig): Built {
  const model = newModel();
  const g = model.graph;
  const dt = floatType(config);
  const net = new Net(g, dt, config.seed + 200);
  const rev = [...config.vaeChannels].reverse();
  const groups = config.vaeNormGroups;
  const latent = g.input('latent_sample', dt, ['batch_size', 4, 'latent_height', 'latent_width']);
  const pq = net.conv('/post_quant_conv', latent, 4, 4, 1);
  let h: Feature = { t: net.conv('/decoder/conv_in', pq, 4, rev[0], 3), c: rev[0] };
  h = resnet(net, config, '/decoder/mid_block/resnets.0', h, rev[0], undefined, 0, groups);
  {
    // VAE mid attention: one head over the pixels, with q/k/v biases.
    const A = '/decoder/mid_block/attentions.0';
    const shape = net.op1(A, 'Shape', [h.t]);
    const normed = net.groupNorm(`${A}/group_norm`, h.t, h.c, groups, 1e-6);
    const tokens = net.op1(A, 'Transpose', [net.op1(A, 'Reshape', [normed, net.i64([0, h.c, -1])])], { perm: [0, 2, 1] });
    const att = net.attention(A, tokens, tokens, h.c, h.c, 1, { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' }, true);
    const back = net.op1(A, 'Reshape', [net.op1(A, 'Transpose', [att], { perm: [0, 2, 1] }), shape]);
    h = { t: net.op1(A, 'Add', [back, h.t]), c: h.c };
  }
  h = resnet(net, config, '/decoder/mid_block/resnets.1', h, rev[0], undefined, 0, groups);
  rev.forEach((outC, i) => {
    const S = `/decoder/up_blocks.${i}`;
    for (let j = 0; j <= config.vaeLayersPerBlock; j++) h = resnet(net, config, `${S}/resnets.${j}`, h, outC, undefined, 0, groups);
    if (i < rev.length - 1) {
      const up = net.op1(`${S}/upsamplers.0`, 'Resize', [h.t, '', net.f32([1, 1, 2, 2])], {
        coordinate_transformation_mode: 'asymmetric',
        mode: 'nearest',
        nearest_mode: 'floor',
      });
      h = { t: net.conv(`${S}/upsamplers.0/conv`, up, outC, outC, 3), c: outC };
    }
  });
  const out = net.silu('/decoder/conv_act', net.groupNorm('/decoder/conv_norm_out', h.t, h.c, groups, 1e-6));
  const y = net.conv('/decoder/conv_out', out, h.c, 3, 3);
  g.node('Identity', [y], ['sample'], {}, '/Identity_out');
  g.output('sample', dt, ['batch_size', 3, 'height', 'width']);
  return { model, linears: net.linears };
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
  const sdxl = config.base === 'sdxl';
  const graphs: Record<string, PipelineGraph> = {};
  const te1: TextEncoderSpec = {
    width: config.hiddenSize,
    layers: config.layers,
    heads: config.textHeads,
    act: config.base === 'sd15' || sdxl ? 'quick_gelu' : 'gelu',
    hiddenStates: sdxl,
  };
  graphs.text_encoder = { file: 'text_encoder/model.onnx', ...buildTextEncoder(config, te1, 0), externalData: false };
  let contextDim = config.hiddenSize;
  let pooledDim = 0;
  if (sdxl) {
    const D2 = config.hiddenSize2 ?? 1280;
    const te2: TextEncoderSpec = {
      width: D2,
      layers: config.layers2 ?? config.layers,
      heads: config.textHeads2 ?? config.textHeads,
      act: 'gelu',
      hiddenStates: true,
      projection: D2,
    };
    graphs.text_encoder_2 = { file: 'text_encoder_2/model.onnx', ...buildTextEncoder(config, te2, 50), externalData: false };
    contextDim += D2;
    pooledDim = D2;
  }
  graphs.unet = { file: 'unet/model.onnx', ...buildUnet(config, contextDim, pooledDim), externalData: config.externalData };
  graphs.vae_decoder = { file: 'vae_decoder/model.onnx', ...buildVaeDecoder(config), externalData: false };
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
