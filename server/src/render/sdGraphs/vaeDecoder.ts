import { VaeDecoderArchitecture } from './architecture';
import { BuiltGraph, GraphOptions, newModel, newNet } from './graphOptions';
import { resnet, upsample } from './unet';

/** diffusers' AutoencoderKL decoder half (post_quant_conv + Decoder) as torch.onnx exports it: `latent_sample` → `sample`. */
export interface VaeDecoderOptions extends GraphOptions {
  /**
   * The resnets' GroupNorm epsilon: 1e-6 in every released VAE (diffusers' Decoder). The test
   * pipelines were first generated with 1e-5 and keep it, so their files and images stay as they were.
   */
  resnetEps?: number;
}

export function buildVaeDecoder(arch: VaeDecoderArchitecture, options: VaeDecoderOptions): BuiltGraph {
  if (arch.channelMult.length < 2) throw new Error('VAE decoder: channelMult needs at least two levels');
  const model = newModel(options);
  const g = model.graph;
  const dt = options.dtype;
  const net = newNet(model, options);
  const eps = options.resnetEps ?? 1e-6;
  const rev = arch.channelMult.map((m) => m * arch.baseChannels).reverse();
  const groups = arch.normGroups;
  const L = arch.latentChannels;
  const latent = g.input('latent_sample', dt, ['batch_size', L, 'latent_height', 'latent_width']);
  const pq = net.conv('/post_quant_conv', latent, L, L, 1);
  let h = { t: net.conv('/decoder/conv_in', pq, L, rev[0], 3), c: rev[0] };
  h = resnet(net, '/decoder/mid_block/resnets.0', h, rev[0], undefined, 0, groups, eps);
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
  h = resnet(net, '/decoder/mid_block/resnets.1', h, rev[0], undefined, 0, groups, eps);
  rev.forEach((outC, i) => {
    const S = `/decoder/up_blocks.${i}`;
    for (let j = 0; j <= arch.numResBlocks; j++) h = resnet(net, `${S}/resnets.${j}`, h, outC, undefined, 0, groups, eps);
    if (i < rev.length - 1) h = upsample(net, S, h);
  });
  const out = net.silu('/decoder/conv_act', net.groupNorm('/decoder/conv_norm_out', h.t, h.c, groups, 1e-6));
  const y = net.conv('/decoder/conv_out', out, h.c, arch.outChannels, 3);
  g.node('Identity', [y], ['sample'], {}, '/Identity_out');
  g.output('sample', dt, ['batch_size', arch.outChannels, 'height', 'width']);
  return { model, linears: net.linears };
}
