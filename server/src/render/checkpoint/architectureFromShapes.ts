import { SdArchitecture, SdFamily, TextEncoderArchitecture, UnetArchitecture, VaeDecoderArchitecture } from '../sdGraphs/architecture';
import { CheckpointError } from './checkpointError';
import { TensorIndex } from './familyDetection';
import { textEncoderPrefixes, UNET_PREFIX, VAE_PREFIX } from './ldmKeyTable';

/**
 * A checkpoint's architecture from its tensors' shapes (as ComfyUI's model_detection.unet_config_from_diffusers_unet
 * and detect_unet_config read them), plus the constants no file stores, as A1111's configs fix them:
 * GroupNorm 32 groups; SD1's UNet 8 heads, SD2/SDXL's 64 channels a head; CLIP/OpenCLIP 64-wide heads
 * (width / 64, at least 1 so narrow test models work); CLIP-L quick_gelu, OpenCLIP gelu; VAE scale 0.18215
 * (SDXL 0.13025). So a narrow model with the same layout and constants loads like a released one.
 */

const NORM_GROUPS = 32;

class Shapes {
  constructor(readonly file: string, private readonly tensors: TensorIndex) {}

  get(key: string, rank?: number): number[] {
    const tensor = this.tensors.get(key);
    if (tensor === undefined) throw new CheckpointError('missing-key', `${this.file} has no "${key}"`);
    if (rank !== undefined && tensor.shape.length !== rank) {
      throw new CheckpointError('bad-shape', `${this.file}: "${key}" has shape [${tensor.shape.join(', ')}], expected ${rank} dimensions`);
    }
    // A zero width would divide by zero below and describe no model.
    if (tensor.shape.includes(0)) throw new CheckpointError('bad-shape', `${this.file}: "${key}" has an empty dimension: [${tensor.shape.join(', ')}]`);
    return tensor.shape;
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** Distinct values of the numeric path segment after `prefix` (`...resblocks.` → 0..23). */
  indices(prefix: string): number[] {
    const found = new Set<number>();
    for (const key of this.tensors.keys()) {
      if (!key.startsWith(prefix)) continue;
      const match = /^(\d+)\./.exec(key.slice(prefix.length));
      if (match) found.add(Number(match[1]));
    }
    return [...found].sort((a, b) => a - b);
  }

  /** Layers 0..n-1, all present (a gap would make a broken graph). */
  count(prefix: string, what: string): number {
    const found = this.indices(prefix);
    found.forEach((n, i) => {
      if (n !== i) throw new CheckpointError('missing-key', `${this.file}: ${what} ${i} is missing ("${prefix}${i}.*"), though ${what} ${found[found.length - 1]} is there`);
    });
    return found.length;
  }

  firstKey(test: (key: string) => boolean): string | undefined {
    for (const key of this.tensors.keys()) if (test(key)) return key;
    return undefined;
  }

  unexpected(message: string): CheckpointError {
    return new CheckpointError('unknown-family', `${this.file}: ${message}`);
  }
}

function clipArchitecture(s: Shapes, prefix: string): TextEncoderArchitecture {
  const [vocabSize, width] = s.get(`${prefix}text_model.embeddings.token_embedding.weight`, 2);
  const [positions] = s.get(`${prefix}text_model.embeddings.position_embedding.weight`, 2);
  const layers = s.count(`${prefix}text_model.encoder.layers.`, 'text encoder layer');
  if (layers === 0) throw new CheckpointError('missing-key', `${s.file} has no text encoder layers ("${prefix}text_model.encoder.layers.0.*")`);
  const [ffWidth] = s.get(`${prefix}text_model.encoder.layers.0.mlp.fc1.weight`, 2);
  return { kind: 'clip', width, layers, heads: Math.max(1, Math.floor(width / 64)), ffWidth, vocabSize, positions, activation: 'quick_gelu' };
}

function openClipArchitecture(s: Shapes, prefix: string, withProjection: boolean): TextEncoderArchitecture {
  const [vocabSize, width] = s.get(`${prefix}token_embedding.weight`, 2);
  const [positions] = s.get(`${prefix}positional_embedding`, 2);
  const layers = s.count(`${prefix}transformer.resblocks.`, 'text encoder layer');
  if (layers === 0) throw new CheckpointError('missing-key', `${s.file} has no text encoder layers ("${prefix}transformer.resblocks.0.*")`);
  const [ffWidth] = s.get(`${prefix}transformer.resblocks.0.mlp.c_fc.weight`, 2);
  const te: TextEncoderArchitecture = { kind: 'openclip', width, layers, heads: Math.max(1, Math.floor(width / 64)), ffWidth, vocabSize, positions, activation: 'gelu' };
  if (withProjection) te.projectionDim = s.get(`${prefix}text_projection`, 2)[1];
  return te;
}

function transformerDepth(s: Shapes, prefix: string): number {
  return s.has(`${prefix}norm.weight`) || s.has(`${prefix}proj_in.weight`) ? s.count(`${prefix}transformer_blocks.`, `transformer block of ${prefix}`) : 0;
}

function unetArchitecture(s: Shapes, family: SdFamily, pooledWidth: number | undefined): UnetArchitecture {
  const P = UNET_PREFIX;
  const [modelChannels, inChannels] = s.get(`${P}input_blocks.0.0.weight`, 4);
  const [outChannels] = s.get(`${P}out.2.weight`, 4);
  const temb = s.get(`${P}time_embed.0.weight`, 2);
  if (temb[0] !== 4 * modelChannels || temb[1] !== modelChannels) {
    throw s.unexpected(`time_embed.0 is [${temb.join(', ')}], expected [${4 * modelChannels}, ${modelChannels}] for a ${modelChannels}-wide UNet`);
  }

  // Walk input_blocks: resnets (in_layers) and their transformers, a level ending at each downsampler (op).
  const levels: { widths: number[]; depths: number[] }[] = [{ widths: [], depths: [] }];
  const blocks = s.indices(`${P}input_blocks.`);
  for (const n of blocks) {
    if (n === 0) continue;
    const block = `${P}input_blocks.${n}.`;
    if (s.has(`${block}0.op.weight`)) {
      levels.push({ widths: [], depths: [] });
      continue;
    }
    const level = levels[levels.length - 1];
    level.widths.push(s.get(`${block}0.in_layers.2.weight`, 4)[0]);
    level.depths.push(transformerDepth(s, `${block}1.`));
  }
  const numResBlocks = levels[0].widths.length;
  if (numResBlocks === 0) throw s.unexpected('the UNet has no resnet in its first level');
  const channelMult: number[] = [];
  const depthPerLevel: number[] = [];
  levels.forEach((level, i) => {
    if (level.widths.length !== numResBlocks) throw s.unexpected(`UNet level ${i} has ${level.widths.length} resnets, level 0 has ${numResBlocks}`);
    if (new Set(level.widths).size !== 1 || level.widths[0] % modelChannels !== 0) throw s.unexpected(`UNet level ${i} has widths ${level.widths.join(', ')}`);
    if (new Set(level.depths).size !== 1) throw s.unexpected(`UNet level ${i} has transformers of depths ${level.depths.join(', ')}`);
    channelMult.push(level.widths[0] / modelChannels);
    depthPerLevel.push(level.depths[0]);
  });
  const expectedBlocks = levels.length * (numResBlocks + 1);
  const outputBlocks = s.count(`${P}output_blocks.`, 'UNet output block');
  if (outputBlocks !== expectedBlocks) throw s.unexpected(`the UNet has ${outputBlocks} output blocks, its input side implies ${expectedBlocks}`);
  const middleTransformerDepth = transformerDepth(s, `${P}middle_block.1.`);
  if (middleTransformerDepth === 0) throw s.unexpected('the UNet\'s middle block has no transformer');

  const toK = s.firstKey((k) => k.startsWith(P) && k.endsWith('.attn2.to_k.weight'));
  if (toK === undefined) throw s.unexpected('the UNet has no cross-attention (no attn2.to_k)');
  const contextDim = s.get(toK, 2)[1];
  const projIn = s.firstKey((k) => k.startsWith(P) && k.endsWith('.proj_in.weight')) as string;
  const linearProjection = s.get(projIn).length === 2;

  const unet: UnetArchitecture = {
    inChannels,
    outChannels,
    modelChannels,
    channelMult,
    numResBlocks,
    transformerDepth: depthPerLevel,
    middleTransformerDepth,
    contextDim,
    heads: family === 'sd1' ? { count: 8 } : { headChannels: 64 },
    linearProjection,
    normGroups: NORM_GROUPS,
  };
  if (s.has(`${P}label_emb.0.0.weight`)) {
    const adm = s.get(`${P}label_emb.0.0.weight`, 2)[1];
    unet.admInChannels = adm;
    if (family === 'sdxl' && pooledWidth !== undefined) {
      // label_emb's input is the pooled text embedding then six time-id sinusoids of equal width.
      const timeIds = adm - pooledWidth;
      if (timeIds <= 0 || timeIds % 6 !== 0) throw s.unexpected(`label_emb takes ${adm} inputs, which is not ${pooledWidth} pooled + 6 time ids`);
      unet.additionTimeEmbedDim = timeIds / 6;
    }
  }
  return unet;
}

function vaeArchitecture(s: Shapes, family: SdFamily, prefix: string): VaeDecoderArchitecture {
  const D = `${prefix}decoder.`;
  const levels = s.count(`${D}up.`, 'VAE decoder level');
  if (levels === 0) {
    throw new CheckpointError(
      'missing-key',
      `${s.file} has no VAE decoder ("${D}up.0.*"): choose a VAE for it (sdPrompt.vae, or "VAE:" in the prompt's parameters)`,
    );
  }
  const blocks = s.count(`${D}up.0.block.`, 'VAE decoder resnet');
  const widths = Array.from({ length: levels }, (_, k) => s.get(`${D}up.${k}.block.0.conv1.weight`, 4)[0]);
  // The decoder alone cannot tell `ch` from channel_mult[0]; every released VAE has channel_mult[0] = 1.
  const baseChannels = widths[0];
  const channelMult = widths.map((w) => {
    if (w % baseChannels !== 0) throw s.unexpected(`VAE decoder level widths ${widths.join(', ')} are not multiples of ${baseChannels}`);
    return w / baseChannels;
  });
  const [, latentChannels] = s.get(`${D}conv_in.weight`, 4);
  const [outChannels] = s.get(`${D}conv_out.weight`, 4);
  return {
    latentChannels,
    baseChannels,
    channelMult,
    numResBlocks: blocks - 1,
    outChannels,
    normGroups: NORM_GROUPS,
    scalingFactor: family === 'sdxl' ? 0.13025 : 0.18215,
  };
}

/** A VAE decoder's architecture from a checkpoint (`first_stage_model.`) or a standalone VAE file (no prefix). */
export function vaeDecoderFromShapes(file: string, tensors: TensorIndex, family: SdFamily, prefix: string): VaeDecoderArchitecture {
  return vaeArchitecture(new Shapes(file, tensors), family, prefix);
}

/**
 * The architecture of a checkpoint of a known family; `prediction` is epsilon until prediction.ts decides.
 * `vaeDecoder`, when given (a VAE chosen from another file), replaces the checkpoint's own, which may then be absent.
 */
export function architectureFromShapes(file: string, tensors: TensorIndex, family: SdFamily, vaeDecoder?: VaeDecoderArchitecture): SdArchitecture {
  const s = new Shapes(file, tensors);
  const prefixes = textEncoderPrefixes({ family } as SdArchitecture);
  const textEncoders =
    family === 'sd1'
      ? [clipArchitecture(s, prefixes[0])]
      : family === 'sd2'
        ? [openClipArchitecture(s, prefixes[0], false)]
        : [clipArchitecture(s, prefixes[0]), openClipArchitecture(s, prefixes[1], true)];
  const pooled = family === 'sdxl' ? textEncoders[1].projectionDim : undefined;
  const unet = unetArchitecture(s, family, pooled);
  const contextWidth = textEncoders.reduce((sum, te) => sum + te.width, 0);
  if (unet.contextDim !== contextWidth) {
    throw s.unexpected(`the UNet's cross-attention takes ${unet.contextDim}-wide context, but the text encoder${textEncoders.length > 1 ? 's give' : ' gives'} ${contextWidth}`);
  }
  return { family, prediction: 'epsilon', textEncoders, unet, vaeDecoder: vaeDecoder ?? vaeArchitecture(s, family, VAE_PREFIX) };
}
