import { attrFloat, ElemType, ModelBuilder } from '../onnx/onnxWriter';
import { TextEncoderArchitecture } from './architecture';
import { BuiltGraph, GraphOptions, newModel, newNet } from './graphOptions';

/**
 * transformers' CLIPTextModel / CLIPTextModelWithProjection as torch.onnx exports it: `input_ids` →
 * `last_hidden_state` and `pooler_output` (or `text_embeds` with a projection), and with
 * `hiddenStates` every layer's input as `hidden_states.N` (N = 0 the embeddings … layers the last
 * layer's output before the final norm): A1111's clip skip and SDXL's penultimate layer read those.
 * OpenCLIP encoders (SD2, SDXL's second) are the same graph with gelu, their weights under CLIP's names.
 */
export interface TextEncoderOptions extends GraphOptions {
  inputIdsType: 'int32' | 'int64';
  /** Output every layer's hidden state (`hidden_states.0` … `hidden_states.<layers>`). */
  hiddenStates: boolean;
  /**
   * Also output each earlier hidden state through the final LayerNorm (`normed_hidden_states.0` …
   * `normed_hidden_states.<layers - 1>`): A1111's clip skip N on SD1 conditions on
   * `final_layer_norm(hidden_states[-N])`, which is `normed_hidden_states.<layers + 1 - N>`.
   */
  normedHiddenStates?: boolean;
}

export function buildTextEncoder(arch: TextEncoderArchitecture, options: TextEncoderOptions): BuiltGraph {
  const model: ModelBuilder = newModel(options);
  const g = model.graph;
  const dt = options.dtype;
  const net = newNet(model, options);
  const D = arch.width;
  const P = arch.positions;
  const ids = g.input('input_ids', options.inputIdsType, ['batch_size', 'sequence_length']);

  // Embeddings: token Gather + position Gather over position_ids sliced to the sequence length.
  const E = '/text_model/embeddings';
  const tokW = net.param(`${E}/token_embedding`, 'text_model.embeddings.token_embedding.weight', [arch.vocabSize, D], { std: 0.02 });
  const posW = net.param(`${E}/position_embedding`, 'text_model.embeddings.position_embedding.weight', [P, D], { std: 0.01 });
  // A constant, not a weight: checkpoints' own position_ids are ignored, as A1111 ignores them.
  const posIds = g.initializer(
    'text_model.embeddings.position_ids',
    BigInt64Array.from({ length: P }, (_, i) => BigInt(i)),
    [1, P],
  );
  const idShape = net.op1(E, 'Shape', [ids]);
  const seqLen = net.op1(E, 'Slice', [idShape, net.i64([1]), net.i64([2]), net.i64([0])]);
  const posSlice = net.op1(E, 'Slice', [posIds, net.i64([0]), seqLen, net.i64([1])]);
  const tok = net.op1(`${E}/token_embedding`, 'Gather', [tokW, ids]);
  const pos = net.op1(`${E}/position_embedding`, 'Gather', [posW, posSlice]);
  let h = net.op1(E, 'Add', [tok, pos]);

  // Causal mask [S, S]: 0 on and below the diagonal, the dtype's most negative value above (torch's finfo.min).
  const neg = dt === 'float16' ? -65504 : -3.4028234663852886e38;
  const maskFull = new Float32Array(P * P);
  for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) maskFull[i * P + j] = neg;
  const maskInit = g.initializer(net.onnxName('Const'), net.floats(maskFull), [P, P]);
  const ends = net.op1('/text_model', 'Concat', [seqLen, seqLen], { axis: 0 });
  const mask = net.op1('/text_model', 'Slice', [maskInit, net.i64([0, 0]), ends, net.i64([0, 1])]);

  const hiddenStates: string[] = [h];
  for (let l = 0; l < arch.layers; l++) {
    const L = `/text_model/encoder/layers.${l}`;
    const n1 = net.layerNorm(`${L}/layer_norm1`, h, D);
    // CLIP scales q inside the attention; the net scales the scores instead, which is the same product.
    const a = net.attention(`${L}/self_attn`, n1, n1, D, D, arch.heads, { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' }, true, mask);
    h = net.op1(L, 'Add', [h, a]);
    const n2 = net.layerNorm(`${L}/layer_norm2`, h, D);
    const f1 = net.linear(`${L}/mlp/fc1`, n2, D, arch.ffWidth, true);
    const act = arch.activation === 'quick_gelu' ? net.quickGelu(`${L}/mlp/activation_fn`, f1) : net.gelu(`${L}/mlp/activation_fn`, f1);
    const f2 = net.linear(`${L}/mlp/fc2`, act, arch.ffWidth, D, true);
    h = net.op1(L, 'Add', [h, f2]);
    hiddenStates.push(h);
  }
  const last = net.layerNorm('/text_model/final_layer_norm', h, D);
  // The final norm's node, whose weights and epsilon the clip-skip outputs share (an fp16 graph has a Cast after it).
  const finalNorm = [...g.nodes].reverse().find((n) => n.opType === 'LayerNormalization')!;
  const outType: ElemType = dt;
  g.node('Identity', [last], ['last_hidden_state'], {}, '/text_model/Identity_last');
  g.output('last_hidden_state', outType, ['batch_size', 'sequence_length', D]);

  // Pooled output at the EOS token: CLIP takes argmax(input_ids) since EOS has the largest id.
  const T = '/text_model';
  const eos = net.op1(T, 'ArgMax', [net.cast(T, ids, 'int32')], { axis: -1, keepdims: 1 });
  const pooled = net.op1(T, 'GatherND', [last, eos], { batch_dims: 1 });
  if (arch.projectionDim && options.weights.kind === 'source') {
    // The pooled output is 2-D: Gemm transB=1 reads the [proj, D] weight as stored.
    const w = net.param('/text_projection', 'text_projection.weight', [arch.projectionDim, D], { std: 0.02 });
    net.linears.push({ module: 'text_projection', initializer: 'text_projection.weight', node: '/text_projection/Gemm', op: 'Gemm', dims: [arch.projectionDim, D] });
    g.node('Gemm', [pooled, w], ['text_embeds'], { alpha: attrFloat(1), beta: attrFloat(1), transB: 1 }, '/text_projection/Gemm');
    g.output('text_embeds', outType, ['batch_size', arch.projectionDim]);
  } else if (arch.projectionDim) {
    const w = net.linearWeight(D, arch.projectionDim, 0.02);
    net.linears.push({ module: 'text_projection', initializer: w.initializer, node: '/text_projection/MatMul', op: 'MatMul', dims: w.dims });
    g.node('MatMul', [pooled, w.value], ['text_embeds'], {}, '/text_projection/MatMul');
    g.output('text_embeds', outType, ['batch_size', arch.projectionDim]);
  } else {
    g.node('Identity', [pooled], ['pooler_output'], {}, '/text_model/Identity_pooled');
    g.output('pooler_output', outType, ['batch_size', D]);
  }
  if (options.hiddenStates) {
    hiddenStates.forEach((hs, i) => {
      g.node('Identity', [hs], [`hidden_states.${i}`], {}, `/text_model/Identity_hidden_${i}`);
      g.output(`hidden_states.${i}`, outType, ['batch_size', 'sequence_length', D]);
    });
  }
  if (options.normedHiddenStates) {
    // One LayerNormalization per earlier layer (77×width each: nothing next to the encoder's layers), so
    // every clip skip reads its own output and a render with clip skip 1 computes what it always did.
    hiddenStates.slice(0, -1).forEach((hs, i) => {
      const scope = `/text_model/final_layer_norm_of_${i}`;
      if (dt === 'float16') {
        // fp16 graphs normalise in fp32, as net.layerNorm does (the final norm's weights are fp32 there).
        const normed = net.op1(scope, 'LayerNormalization', [net.cast(scope, hs, 'float32'), finalNorm.inputs[1], finalNorm.inputs[2]], finalNorm.attrs);
        g.node('Cast', [normed], [`normed_hidden_states.${i}`], { to: 10 }, `${scope}/Cast_out`);
      } else {
        g.node('LayerNormalization', [hs, finalNorm.inputs[1], finalNorm.inputs[2]], [`normed_hidden_states.${i}`], finalNorm.attrs, `${scope}/LayerNormalization`);
      }
      g.output(`normed_hidden_states.${i}`, outType, ['batch_size', 'sequence_length', D]);
    });
  }
  return { model, linears: net.linears };
}
