/**
 * What a Stable Diffusion pipeline's graphs are made of, as far as the tensors' shapes and A1111's fixed
 * constants say it: the contract between the single-file checkpoint reader (render/checkpoint/, which infers
 * it from the keys and shapes of a file) and the graph builders (render/sdGraphs/, which emit ONNX from it).
 * Test pipelines use the same types with tiny widths and random weights.
 */

/** The families A1111 can load and this engine renders; everything else is refused by name. */
export type SdFamily = 'sd1' | 'sd2' | 'sdxl';

/**
 * `clip`: transformers' CLIPTextModel names and quick_gelu (SD1, SDXL's first encoder).
 * `openclip`: OpenCLIP's transformer (fused `in_proj_weight`, gelu) presented under CLIPTextModel's
 * names by the weight source (SD2, SDXL's second encoder).
 */
export type TextEncoderKind = 'clip' | 'openclip';

export interface TextEncoderArchitecture {
  kind: TextEncoderKind;
  width: number;
  layers: number;
  /** Every CLIP and OpenCLIP text encoder has 64-wide heads: width / 64 (tiny test models may differ). */
  heads: number;
  /** The MLP's inner width (4 × width in every released model). */
  ffWidth: number;
  vocabSize: number;
  /** 77 for every released model. */
  positions: number;
  activation: 'quick_gelu' | 'gelu';
  /** Width of `text_projection` (SDXL's second encoder: 1280, its pooled `text_embeds`); absent when unused. */
  projectionDim?: number;
}

export interface UnetArchitecture {
  inChannels: number;
  outChannels: number;
  /** Base width (320 in SD1/SD2/SDXL). */
  modelChannels: number;
  /** Width of each level as a multiple of modelChannels (SD1/SD2: [1, 2, 4, 4]; SDXL: [1, 2, 4]). */
  channelMult: number[];
  /** Resnets per down level (up levels have one more). */
  numResBlocks: number;
  /** Transformer blocks per attention at each level; 0 = no attention (SD1/SD2: [1, 1, 1, 0]; SDXL: [0, 2, 10]). */
  transformerDepth: number[];
  /** Transformer blocks in the middle block's attention (SD1/SD2: 1; SDXL: 10). */
  middleTransformerDepth: number;
  /** Cross-attention context width (SD1: 768, SD2: 1024, SDXL: 2048). */
  contextDim: number;
  /** SD1: a fixed count of 8 heads; SD2/SDXL: 64 channels a head. */
  heads: { count: number } | { headChannels: number };
  /** proj_in/proj_out are Linear (SD2, SDXL) instead of 1×1 Conv (SD1). */
  linearProjection: boolean;
  /** SDXL's `label_emb` input width (2816 = pooled 1280 + 6 × 256 time ids); absent without one. */
  admInChannels?: number;
  /** SDXL: width of each time-id sinusoid (256). */
  additionTimeEmbedDim?: number;
  /** GroupNorm groups: 32 in every released model. */
  normGroups: number;
}

export interface VaeDecoderArchitecture {
  latentChannels: number;
  /** `ch` (128): level i has ch × channelMult[i] channels (encoder order). */
  baseChannels: number;
  channelMult: number[];
  /** Resnets per level in the encoder; the decoder has one more per level. */
  numResBlocks: number;
  outChannels: number;
  normGroups: number;
  /** 0.18215 (SD1/SD2) or 0.13025 (SDXL). */
  scalingFactor: number;
}

export interface SdArchitecture {
  family: SdFamily;
  prediction: 'epsilon' | 'v_prediction';
  /** One encoder (SD1, SD2) or two (SDXL: CLIP-L then OpenCLIP-bigG). */
  textEncoders: TextEncoderArchitecture[];
  unet: UnetArchitecture;
  vaeDecoder: VaeDecoderArchitecture;
}

/** Dtypes a weight may be stored in; the graph casts where its compute type differs. */
export type WeightDtype = 'float32' | 'float16' | 'bfloat16';

/** Where a weight's bytes are: a range of a file (no copy: ONNX external data) or memory (a layout had to change). */
export type WeightBytes = { file: string; offset: number; length: number } | { bytes: Uint8Array };

export interface WeightRef {
  dtype: WeightDtype;
  /** Shape in PyTorch's layout of the diffusers parameter: Linear [out, in], Conv [out, in, kh, kw]. */
  shape: number[];
  data: WeightBytes;
}

/** The graphs of a pipeline, by diffusers' folder names. */
export type PipelineComponent = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder';

/**
 * A pipeline's weights by diffusers parameter name within each component: `text_model.encoder.layers.0.self_attn.q_proj.weight`,
 * `down_blocks.0.resnets.0.conv1.weight`, `decoder.up_blocks.0.resnets.0.conv1.weight`, `post_quant_conv.weight`.
 * A checkpoint's source maps these onto its LDM keys; a missing one throws an error that names the key it looked for.
 */
export interface WeightSource {
  weight(component: PipelineComponent, name: string): WeightRef;
}
