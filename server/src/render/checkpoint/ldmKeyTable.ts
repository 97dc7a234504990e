import { PipelineComponent, SdArchitecture, TextEncoderArchitecture, UnetArchitecture, VaeDecoderArchitecture } from '../sdGraphs/architecture';

/**
 * Every weight of a pipeline by its diffusers name, with the single-file (LDM) key that holds it and how its
 * bytes are laid out there: the one table that both the checkpoint reader (diffusers name → file range) and
 * the test checkpoint generator (architecture → LDM keys and shapes) use, so the two cannot drift apart.
 *
 * The name correspondences are the public facts of diffusers' `loaders/single_file_utils.py`
 * (convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint, convert_open_clip_checkpoint) and of its
 * `scripts/convert_diffusers_to_original_stable_diffusion.py` (the reverse tables); the shapes follow from the
 * architecture. Written here from those facts, not copied.
 */

/**
 * How the diffusers tensor is found in the LDM tensor:
 * - `same`: the same bytes and element order (the shape may drop trailing 1s: VAE attention's 1×1 convs as Linear);
 * - `rows`: rows [start, start + count) of the first axis (OpenCLIP's fused q/k/v `in_proj_*`), still one file range;
 * - `transpose`: a 2-D matrix stored the other way round (OpenCLIP's `text_projection`), rebuilt in memory.
 */
export type LdmLayout = { kind: 'same' } | { kind: 'rows'; start: number; count: number } | { kind: 'transpose' };

export interface LdmTableEntry {
  component: PipelineComponent;
  /** The diffusers parameter name within the component. */
  name: string;
  /** Its shape in PyTorch's layout of the diffusers module. */
  shape: number[];
  ldmKey: string;
  /** The LDM tensor's full shape (for `rows`, the fused tensor's). */
  ldmShape: number[];
  layout: LdmLayout;
  /**
   * Present in the table so a graph may ask for it, but not required of a file: SDXL's first text encoder
   * ends at its penultimate layer, so some files leave its final layer norm out.
   */
  optional?: boolean;
}

export const UNET_PREFIX = 'model.diffusion_model.';
export const VAE_PREFIX = 'first_stage_model.';

/** Where each family keeps its text encoders, and which naming each uses. */
export function textEncoderPrefixes(arch: SdArchitecture): string[] {
  if (arch.family === 'sd1') return ['cond_stage_model.transformer.'];
  if (arch.family === 'sd2') return ['cond_stage_model.model.'];
  return ['conditioner.embedders.0.transformer.', 'conditioner.embedders.1.model.'];
}

const SAME: LdmLayout = { kind: 'same' };

class TableBuilder {
  readonly entries: LdmTableEntry[] = [];
  constructor(private readonly component: PipelineComponent, private readonly ldmPrefix: string) {}

  /** A weight whose LDM tensor has the diffusers shape (or `ldmShape` when the LDM one adds 1×1 axes). */
  add(name: string, ldmKey: string, shape: number[], ldmShape: number[] = shape, optional = false): void {
    this.entries.push({ component: this.component, name, shape, ldmKey: this.ldmPrefix + ldmKey, ldmShape, layout: SAME, ...(optional ? { optional } : {}) });
  }

  /** weight + bias of a Linear [out, in]. */
  linear(name: string, ldmKey: string, out: number, inp: number, bias = true): void {
    this.add(`${name}.weight`, `${ldmKey}.weight`, [out, inp]);
    if (bias) this.add(`${name}.bias`, `${ldmKey}.bias`, [out]);
  }

  conv(name: string, ldmKey: string, out: number, inp: number, kernel: number): void {
    this.add(`${name}.weight`, `${ldmKey}.weight`, [out, inp, kernel, kernel]);
    this.add(`${name}.bias`, `${ldmKey}.bias`, [out]);
  }

  /** GroupNorm / LayerNorm: weight and bias of `width`. */
  norm(name: string, ldmKey: string, width: number, optional = false): void {
    this.add(`${name}.weight`, `${ldmKey}.weight`, [width], [width], optional);
    this.add(`${name}.bias`, `${ldmKey}.bias`, [width], [width], optional);
  }

  raw(entry: Omit<LdmTableEntry, 'component'>): void {
    this.entries.push({ component: this.component, ...entry, ldmKey: this.ldmPrefix + entry.ldmKey });
  }
}

// ---- UNet -------------------------------------------------------------------------------------------

/** Time embedding width: 4 × the base width in every SD UNet. */
export function unetTimeEmbedWidth(unet: UnetArchitecture): number {
  return 4 * unet.modelChannels;
}

function unetResnet(t: TableBuilder, name: string, ldm: string, inC: number, outC: number, tembC: number): void {
  t.norm(`${name}.norm1`, `${ldm}.in_layers.0`, inC);
  t.conv(`${name}.conv1`, `${ldm}.in_layers.2`, outC, inC, 3);
  t.linear(`${name}.time_emb_proj`, `${ldm}.emb_layers.1`, outC, tembC);
  t.norm(`${name}.norm2`, `${ldm}.out_layers.0`, outC);
  t.conv(`${name}.conv2`, `${ldm}.out_layers.3`, outC, outC, 3);
  if (inC !== outC) t.conv(`${name}.conv_shortcut`, `${ldm}.skip_connection`, outC, inC, 1);
}

function unetTransformer(t: TableBuilder, name: string, ldm: string, unet: UnetArchitecture, c: number, depth: number): void {
  t.norm(`${name}.norm`, `${ldm}.norm`, c);
  if (unet.linearProjection) t.linear(`${name}.proj_in`, `${ldm}.proj_in`, c, c);
  else t.conv(`${name}.proj_in`, `${ldm}.proj_in`, c, c, 1);
  for (let b = 0; b < depth; b++) {
    // The blocks' inner names are the same in both layouts.
    const block = `transformer_blocks.${b}`;
    const n = `${name}.${block}`;
    const l = `${ldm}.${block}`;
    t.norm(`${n}.norm1`, `${l}.norm1`, c);
    t.linear(`${n}.attn1.to_q`, `${l}.attn1.to_q`, c, c, false);
    t.linear(`${n}.attn1.to_k`, `${l}.attn1.to_k`, c, c, false);
    t.linear(`${n}.attn1.to_v`, `${l}.attn1.to_v`, c, c, false);
    t.linear(`${n}.attn1.to_out.0`, `${l}.attn1.to_out.0`, c, c);
    t.norm(`${n}.norm2`, `${l}.norm2`, c);
    t.linear(`${n}.attn2.to_q`, `${l}.attn2.to_q`, c, c, false);
    t.linear(`${n}.attn2.to_k`, `${l}.attn2.to_k`, c, unet.contextDim, false);
    t.linear(`${n}.attn2.to_v`, `${l}.attn2.to_v`, c, unet.contextDim, false);
    t.linear(`${n}.attn2.to_out.0`, `${l}.attn2.to_out.0`, c, c);
    t.norm(`${n}.norm3`, `${l}.norm3`, c);
    // GEGLU: one projection to twice the inner width (4c), then back.
    t.linear(`${n}.ff.net.0.proj`, `${l}.ff.net.0.proj`, 8 * c, c);
    t.linear(`${n}.ff.net.2`, `${l}.ff.net.2`, c, 4 * c);
  }
  if (unet.linearProjection) t.linear(`${name}.proj_out`, `${ldm}.proj_out`, c, c);
  else t.conv(`${name}.proj_out`, `${ldm}.proj_out`, c, c, 1);
}

/** LDM `input_blocks` index of down level `level`'s resnet `j` (block 0 is conv_in). */
export function inputBlockIndex(unet: UnetArchitecture, level: number, j: number): number {
  return level * (unet.numResBlocks + 1) + j + 1;
}

function unetTable(unet: UnetArchitecture): LdmTableEntry[] {
  const t = new TableBuilder('unet', UNET_PREFIX);
  const mc = unet.modelChannels;
  const temb = unetTimeEmbedWidth(unet);
  const widths = unet.channelMult.map((m) => m * mc);
  const levels = widths.length;
  const nres = unet.numResBlocks;

  t.linear('time_embedding.linear_1', 'time_embed.0', temb, mc);
  t.linear('time_embedding.linear_2', 'time_embed.2', temb, temb);
  if (unet.admInChannels !== undefined) {
    t.linear('add_embedding.linear_1', 'label_emb.0.0', temb, unet.admInChannels);
    t.linear('add_embedding.linear_2', 'label_emb.0.2', temb, temb);
  }
  t.conv('conv_in', 'input_blocks.0.0', mc, unet.inChannels, 3);

  // Down path; remember each skip's width for the up path.
  const skips: number[] = [mc];
  let c = mc;
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < nres; j++) {
      const block = `input_blocks.${inputBlockIndex(unet, i, j)}`;
      unetResnet(t, `down_blocks.${i}.resnets.${j}`, `${block}.0`, c, widths[i], temb);
      c = widths[i];
      if (unet.transformerDepth[i] > 0) unetTransformer(t, `down_blocks.${i}.attentions.${j}`, `${block}.1`, unet, c, unet.transformerDepth[i]);
      skips.push(c);
    }
    if (i < levels - 1) {
      t.conv(`down_blocks.${i}.downsamplers.0.conv`, `input_blocks.${(i + 1) * (nres + 1)}.0.op`, c, c, 3);
      skips.push(c);
    }
  }

  unetResnet(t, 'mid_block.resnets.0', 'middle_block.0', c, c, temb);
  unetTransformer(t, 'mid_block.attentions.0', 'middle_block.1', unet, c, unet.middleTransformerDepth);
  unetResnet(t, 'mid_block.resnets.1', 'middle_block.2', c, c, temb);

  for (let i = 0; i < levels; i++) {
    const level = levels - 1 - i;
    const outC = widths[level];
    const depth = unet.transformerDepth[level];
    for (let j = 0; j <= nres; j++) {
      const block = `output_blocks.${i * (nres + 1) + j}`;
      const skip = skips.pop() as number;
      unetResnet(t, `up_blocks.${i}.resnets.${j}`, `${block}.0`, c + skip, outC, temb);
      c = outC;
      if (depth > 0) unetTransformer(t, `up_blocks.${i}.attentions.${j}`, `${block}.1`, unet, c, depth);
    }
    if (i < levels - 1) {
      const block = `output_blocks.${i * (nres + 1) + nres}`;
      t.conv(`up_blocks.${i}.upsamplers.0.conv`, `${block}.${depth > 0 ? 2 : 1}.conv`, c, c, 3);
    }
  }

  t.norm('conv_norm_out', 'out.0', c);
  t.conv('conv_out', 'out.2', unet.outChannels, c, 3);
  return t.entries;
}

// ---- VAE decoder ------------------------------------------------------------------------------------

function vaeResnet(t: TableBuilder, name: string, ldm: string, inC: number, outC: number): void {
  t.norm(`${name}.norm1`, `${ldm}.norm1`, inC);
  t.conv(`${name}.conv1`, `${ldm}.conv1`, outC, inC, 3);
  t.norm(`${name}.norm2`, `${ldm}.norm2`, outC);
  t.conv(`${name}.conv2`, `${ldm}.conv2`, outC, outC, 3);
  if (inC !== outC) t.conv(`${name}.conv_shortcut`, `${ldm}.nin_shortcut`, outC, inC, 1);
}

/** The VAE decoder's weights; `prefix` is `first_stage_model.` in a checkpoint, empty in a standalone VAE file. */
export function vaeTable(vae: VaeDecoderArchitecture, prefix = VAE_PREFIX): LdmTableEntry[] {
  const t = new TableBuilder('vae_decoder', prefix);
  const z = vae.latentChannels;
  const widths = vae.channelMult.map((m) => m * vae.baseChannels);
  const levels = widths.length;
  let c = widths[levels - 1];
  t.conv('post_quant_conv', 'post_quant_conv', z, z, 1);
  t.conv('decoder.conv_in', 'decoder.conv_in', c, z, 3);
  vaeResnet(t, 'decoder.mid_block.resnets.0', 'decoder.mid.block_1', c, c);
  const attn = 'decoder.mid_block.attentions.0';
  t.norm(`${attn}.group_norm`, 'decoder.mid.attn_1.norm', c);
  // q/k/v/proj_out are 1×1 convs in the LDM VAE, Linear in diffusers: the same bytes.
  for (const [name, ldm] of [['to_q', 'q'], ['to_k', 'k'], ['to_v', 'v'], ['to_out.0', 'proj_out']]) {
    t.add(`${attn}.${name}.weight`, `decoder.mid.attn_1.${ldm}.weight`, [c, c], [c, c, 1, 1]);
    t.add(`${attn}.${name}.bias`, `decoder.mid.attn_1.${ldm}.bias`, [c]);
  }
  vaeResnet(t, 'decoder.mid_block.resnets.1', 'decoder.mid.block_2', c, c);
  for (let i = 0; i < levels; i++) {
    // LDM numbers the decoder's levels from the full-resolution end: diffusers' up_blocks.i is up.{levels-1-i}.
    const level = levels - 1 - i;
    const outC = widths[level];
    for (let j = 0; j <= vae.numResBlocks; j++) {
      vaeResnet(t, `decoder.up_blocks.${i}.resnets.${j}`, `decoder.up.${level}.block.${j}`, c, outC);
      c = outC;
    }
    if (level > 0) t.conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, `decoder.up.${level}.upsample.conv`, c, c, 3);
  }
  t.norm('decoder.conv_norm_out', 'decoder.norm_out', c);
  t.conv('decoder.conv_out', 'decoder.conv_out', vae.outChannels, c, 3);
  return t.entries;
}

// ---- text encoders ----------------------------------------------------------------------------------

function clipTable(component: PipelineComponent, prefix: string, te: TextEncoderArchitecture, finalNormOptional: boolean): LdmTableEntry[] {
  // transformers' CLIPTextModel names under `<prefix>text_model.`: the diffusers names are the same.
  const t = new TableBuilder(component, prefix);
  const w = te.width;
  t.add('text_model.embeddings.token_embedding.weight', 'text_model.embeddings.token_embedding.weight', [te.vocabSize, w]);
  t.add('text_model.embeddings.position_embedding.weight', 'text_model.embeddings.position_embedding.weight', [te.positions, w]);
  for (let l = 0; l < te.layers; l++) {
    const n = `text_model.encoder.layers.${l}`;
    t.norm(`${n}.layer_norm1`, `${n}.layer_norm1`, w);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) t.linear(`${n}.self_attn.${p}`, `${n}.self_attn.${p}`, w, w);
    t.norm(`${n}.layer_norm2`, `${n}.layer_norm2`, w);
    t.linear(`${n}.mlp.fc1`, `${n}.mlp.fc1`, te.ffWidth, w);
    t.linear(`${n}.mlp.fc2`, `${n}.mlp.fc2`, w, te.ffWidth);
  }
  t.norm('text_model.final_layer_norm', 'text_model.final_layer_norm', w, finalNormOptional);
  return t.entries;
}

function openClipTable(component: PipelineComponent, prefix: string, te: TextEncoderArchitecture): LdmTableEntry[] {
  const t = new TableBuilder(component, prefix);
  const w = te.width;
  t.add('text_model.embeddings.token_embedding.weight', 'token_embedding.weight', [te.vocabSize, w]);
  t.add('text_model.embeddings.position_embedding.weight', 'positional_embedding', [te.positions, w]);
  for (let l = 0; l < te.layers; l++) {
    const n = `text_model.encoder.layers.${l}`;
    const o = `transformer.resblocks.${l}`;
    t.norm(`${n}.layer_norm1`, `${o}.ln_1`, w);
    // q, k and v are stacked row-wise in in_proj_weight [3w, w] / in_proj_bias [3w]: each is one contiguous range.
    ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
      t.raw({ name: `${n}.self_attn.${p}.weight`, shape: [w, w], ldmKey: `${o}.attn.in_proj_weight`, ldmShape: [3 * w, w], layout: { kind: 'rows', start: i * w, count: w } });
      t.raw({ name: `${n}.self_attn.${p}.bias`, shape: [w], ldmKey: `${o}.attn.in_proj_bias`, ldmShape: [3 * w], layout: { kind: 'rows', start: i * w, count: w } });
    });
    t.linear(`${n}.self_attn.out_proj`, `${o}.attn.out_proj`, w, w);
    t.norm(`${n}.layer_norm2`, `${o}.ln_2`, w);
    t.linear(`${n}.mlp.fc1`, `${o}.mlp.c_fc`, te.ffWidth, w);
    t.linear(`${n}.mlp.fc2`, `${o}.mlp.c_proj`, w, te.ffWidth);
  }
  t.norm('text_model.final_layer_norm', 'ln_final', w);
  if (te.projectionDim !== undefined) {
    // OpenCLIP multiplies `x @ text_projection` ([w, p]); CLIPTextModelWithProjection's Linear stores [p, w].
    t.raw({ name: 'text_projection.weight', shape: [te.projectionDim, w], ldmKey: 'text_projection', ldmShape: [w, te.projectionDim], layout: { kind: 'transpose' } });
  }
  return t.entries;
}

function textEncoderTables(arch: SdArchitecture): LdmTableEntry[] {
  const prefixes = textEncoderPrefixes(arch);
  const components: PipelineComponent[] = ['text_encoder', 'text_encoder_2'];
  return arch.textEncoders.flatMap((te, i) =>
    te.kind === 'clip' ? clipTable(components[i], prefixes[i], te, arch.family === 'sdxl') : openClipTable(components[i], prefixes[i], te),
  );
}

/** The whole table of a pipeline: text encoder(s), UNet, VAE decoder (the VAE encoder is never read). */
export function ldmKeyTable(arch: SdArchitecture): LdmTableEntry[] {
  return [...textEncoderTables(arch), ...unetTable(arch.unet), ...vaeTable(arch.vaeDecoder)];
}

/** Each LDM key the table reads once, with its full shape, in table order. */
export function ldmKeys(table: readonly LdmTableEntry[]): { key: string; shape: number[] }[] {
  const seen = new Map<string, number[]>();
  for (const entry of table) if (!seen.has(entry.ldmKey)) seen.set(entry.ldmKey, entry.ldmShape);
  return [...seen].map(([key, shape]) => ({ key, shape }));
}
