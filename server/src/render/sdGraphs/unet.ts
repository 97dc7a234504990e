import { UnetArchitecture } from './architecture';
import { BuiltGraph, GraphOptions, newModel, newNet } from './graphOptions';
import { Net } from './net';

/**
 * diffusers' UNet2DConditionModel as torch.onnx exports it: `sample`, `timestep`,
 * `encoder_hidden_states` (SDXL adds `text_embeds` and `time_ids`) → `out_sample`.
 */
export interface UnetOptions extends GraphOptions {
  timestepType: 'float' | 'int64';
}

interface Feature {
  t: string;
  c: number;
}

/** ResnetBlock2D: GN → SiLU → conv1 (+ time embedding) → GN → SiLU → conv2, plus a 1×1 shortcut when widths differ. */
export function resnet(net: Net, scope: string, x: Feature, outC: number, temb: string | undefined, tembDim: number, groups: number, eps = 1e-5): Feature {
  let h = net.silu(`${scope}/nonlinearity`, net.groupNorm(`${scope}/norm1`, x.t, x.c, groups, eps));
  h = net.conv(`${scope}/conv1`, h, x.c, outC, 3);
  if (temb) {
    const t = net.gemm(`${scope}/time_emb_proj`, net.silu(`${scope}/nonlinearity`, temb), tembDim, outC);
    h = net.op1(scope, 'Add', [h, net.op1(scope, 'Unsqueeze', [t, net.i64([2, 3])])]);
  }
  h = net.silu(`${scope}/nonlinearity`, net.groupNorm(`${scope}/norm2`, h, outC, groups, eps));
  h = net.conv(`${scope}/conv2`, h, outC, outC, 3);
  const shortcut = x.c === outC ? x.t : net.conv(`${scope}/conv_shortcut`, x.t, x.c, outC, 1);
  return { t: net.op1(scope, 'Add', [shortcut, h]), c: outC };
}

/** Nearest ×2 upsampling then a 3×3 conv (Upsample2D, in the UNet and the VAE decoder alike). */
export function upsample(net: Net, scope: string, h: Feature): Feature {
  const up = net.op1(`${scope}/upsamplers.0`, 'Resize', [h.t, '', net.f32([1, 1, 2, 2])], {
    coordinate_transformation_mode: 'asymmetric',
    mode: 'nearest',
    nearest_mode: 'floor',
  });
  return { t: net.conv(`${scope}/upsamplers.0/conv`, up, h.c, h.c, 3), c: h.c };
}

function headsOf(arch: UnetArchitecture, c: number): number {
  if ('count' in arch.heads) return arch.heads.count;
  const heads = c / arch.heads.headChannels;
  if (!Number.isInteger(heads)) throw new Error(`UNet: ${c} channels do not split into ${arch.heads.headChannels}-channel heads`);
  return heads;
}

/** Transformer2DModel: GN → proj_in → BasicTransformerBlocks (attn1, attn2, GEGLU FF) → proj_out → + input. */
function transformer(net: Net, arch: UnetArchitecture, scope: string, x: Feature, context: string, depth: number): Feature {
  const C = x.c;
  const linearProj = arch.linearProjection;
  const shape = net.op1(scope, 'Shape', [x.t]);
  let h = net.groupNorm(`${scope}/norm`, x.t, C, arch.normGroups, 1e-6);
  const toTokens = (t: string): string => net.op1(scope, 'Transpose', [net.op1(scope, 'Reshape', [t, net.i64([0, C, -1])])], { perm: [0, 2, 1] });
  if (linearProj) h = net.linear(`${scope}/proj_in`, toTokens(h), C, C, true);
  else h = toTokens(net.conv(`${scope}/proj_in`, h, C, C, 1));
  const heads = headsOf(arch, C);
  const names = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
  for (let b = 0; b < depth; b++) {
    const B = `${scope}/transformer_blocks.${b}`;
    const n1 = net.layerNorm(`${B}/norm1`, h, C);
    const a1 = net.attention(`${B}/attn1`, n1, n1, C, C, heads, names, false);
    // Each residual add and the next LayerNorm: one SkipLayerNormalization where that form is on.
    const r1 = net.addLayerNorm(`${B}/norm2`, B, a1, h, C);
    const a2 = net.attention(`${B}/attn2`, r1.normed, context, C, arch.contextDim, heads, names, false);
    const r2 = net.addLayerNorm(`${B}/norm3`, B, a2, r1.sum, C);
    h = r2.sum;
    // GEGLU: proj to 8C, split, hidden * gelu(gate), then net.2 back to C.
    const n3 = r2.normed;
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

export function buildUnet(arch: UnetArchitecture, options: UnetOptions): BuiltGraph {
  if (arch.transformerDepth.length !== arch.channelMult.length) throw new Error('UNet: transformerDepth needs one entry per channelMult level');
  const model = newModel(options);
  const g = model.graph;
  const dt = options.dtype;
  const net = newNet(model, options);
  const C0 = arch.modelChannels;
  const blockC = arch.channelMult.map((m) => m * C0);
  const tembDim = 4 * C0;
  const depth = (i: number): number => arch.transformerDepth[i];
  const contextDim = arch.contextDim;

  const sample = g.input('sample', dt, ['batch_size', arch.inChannels, 'height', 'width']);
  // optimum exports `timestep` 1-D with a symbolic length ("steps"): diffusers feeds np.array([t]).
  const timestep = g.input('timestep', options.timestepType === 'int64' ? 'int64' : dt, ['steps']);
  const context = g.input('encoder_hidden_states', dt, ['batch_size', 'sequence_length', contextDim]);

  // Time embedding: sinusoid in float32 (fp16 cannot hold 999 · freq products precisely), then back to the graph type.
  let tproj = sinusoid(net, '/time_proj', net.cast('/time_proj', timestep, 'float32'), C0);
  if (dt === 'float16') tproj = net.cast('/time_proj', tproj, 'float16');
  let temb = net.gemm('/time_embedding/linear_1', tproj, C0, tembDim);
  temb = net.gemm('/time_embedding/linear_2', net.silu('/time_embedding/act', temb), tembDim, tembDim);

  if (arch.admInChannels !== undefined) {
    // add_embedding over concat(text_embeds, sinusoid of each of the 6 time_ids), as SDXL's text_time embedding.
    const tdim = arch.additionTimeEmbedDim ?? 256;
    const pooledDim = arch.admInChannels - 6 * tdim;
    if (pooledDim <= 0) throw new Error(`UNet: label_emb takes ${arch.admInChannels} inputs, fewer than 6 time ids of ${tdim}`);
    const textEmbeds = g.input('text_embeds', dt, ['batch_size', pooledDim]);
    const timeIds = g.input('time_ids', dt, ['batch_size', 6]);
    const flat = net.op1('/add_time_proj', 'Reshape', [net.cast('/add_time_proj', timeIds, 'float32'), net.i64([-1])]);
    let tid = net.op1('/add_time_proj', 'Reshape', [sinusoid(net, '/add_time_proj', flat, tdim), net.i64([-1, 6 * tdim])]);
    if (dt === 'float16') tid = net.cast('/add_time_proj', tid, 'float16');
    const addIn = net.op1('', 'Concat', [textEmbeds, tid], { axis: -1 });
    let aemb = net.gemm('/add_embedding/linear_1', addIn, arch.admInChannels, tembDim);
    aemb = net.gemm('/add_embedding/linear_2', net.silu('/add_embedding/act', aemb), tembDim, tembDim);
    temb = net.op1('', 'Add', [temb, aemb]);
  }

  let h: Feature = { t: net.conv('/conv_in', sample, arch.inChannels, C0, 3), c: C0 };
  const skips: Feature[] = [h];
  blockC.forEach((outC, i) => {
    const S = `/down_blocks.${i}`;
    for (let j = 0; j < arch.numResBlocks; j++) {
      h = resnet(net, `${S}/resnets.${j}`, h, outC, temb, tembDim, arch.normGroups);
      if (depth(i) > 0) h = transformer(net, arch, `${S}/attentions.${j}`, h, context, depth(i));
      skips.push(h);
    }
    if (i < blockC.length - 1) {
      h = { t: net.conv(`${S}/downsamplers.0/conv`, h.t, outC, outC, 3, 2), c: outC };
      skips.push(h);
    }
  });

  const mid = blockC[blockC.length - 1];
  h = resnet(net, '/mid_block/resnets.0', h, mid, temb, tembDim, arch.normGroups);
  if (arch.middleTransformerDepth > 0) h = transformer(net, arch, '/mid_block/attentions.0', h, context, arch.middleTransformerDepth);
  h = resnet(net, '/mid_block/resnets.1', h, mid, temb, tembDim, arch.normGroups);

  const rev = [...blockC].reverse();
  rev.forEach((outC, i) => {
    const S = `/up_blocks.${i}`;
    const downIndex = blockC.length - 1 - i;
    for (let j = 0; j <= arch.numResBlocks; j++) {
      const skip = skips.pop() as Feature;
      const cat: Feature = { t: net.op1(S, 'Concat', [h.t, skip.t], { axis: 1 }), c: h.c + skip.c };
      h = resnet(net, `${S}/resnets.${j}`, cat, outC, temb, tembDim, arch.normGroups);
      if (depth(downIndex) > 0) h = transformer(net, arch, `${S}/attentions.${j}`, h, context, depth(downIndex));
    }
    if (i < rev.length - 1) h = upsample(net, S, h);
  });

  const out = net.silu('/conv_act', net.groupNorm('/conv_norm_out', h.t, h.c, arch.normGroups));
  const y = net.conv('/conv_out', out, h.c, arch.outChannels, 3);
  g.node('Identity', [y], ['out_sample'], {}, '/Identity_out');
  g.output('out_sample', dt, ['batch_size', arch.outChannels, 'height', 'width']);
  return { model, linears: net.linears };
}
