import { ElemType, GraphBuilder, TensorData, attrFloat } from '../onnx/onnxWriter';
import { toFloat16 } from '../onnx/half';

/**
 * Layer helpers that emit ONNX the way torch.onnx (TorchScript exporter, opset 17) does for
 * the modules an SD pipeline uses, so code that reads real exports (the LoRA merge above
 * all) can be tested on generated ones:
 *  - nn.Linear on a 3-D input → MatMul with a constant-folded, transposed weight named
 *    `onnx::MatMul_N` in [in, out] layout, then Add with the bias under its parameter name;
 *  - nn.Linear on a 2-D input with bias → Gemm(transB=1) with the weight under its parameter
 *    name in [out, in] layout (torch's addmm path);
 *  - Conv keeps parameter names (`down_blocks.0.resnets.0.conv1.weight`);
 *  - node names are module scopes (`/down_blocks.0/attentions.0/.../to_k/MatMul`), repeated
 *    op types in one scope get `_1`, `_2`; outputs are `<node name>_output_0`.
 */

/** A Linear layer as the generator laid it out: what a LoRA merge must find. */
export interface LinearRecord {
  /** Module path as in a diffusers/transformers state dict (`down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k`). */
  module: string;
  /** The weight initializer. */
  initializer: string;
  /** The node that consumes it. */
  node: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** Initializer dims as stored ([in, out] for MatMul, [out, in] for Gemm, [out, in, k, k] for Conv). */
  dims: number[];
}

/** Seeded, per-tensor PRNG: each weight depends only on (seed, name), so lazy generation order never matters. */
function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomNormal(seed: number, name: string, count: number, std: number): Float32Array {
  const rand = mulberry32(hashSeed(seed, name));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // Box–Muller; 1 - u keeps log away from 0.
    const r = Math.sqrt(-2 * Math.log(1 - rand())) * std;
    const theta = 2 * Math.PI * rand();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

export type FloatType = 'float32' | 'float16';

export class Net {
  readonly linears: LinearRecord[] = [];
  private readonly nodeNames = new Map<string, number>();
  private onnxCounter: number;
  private readonly constCache = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    readonly dtype: FloatType,
    readonly seed: number,
    /** Where `onnx::X_N` numbering starts; torch's numbers are value ids, large and increasing. */
    firstOnnxId = 1000,
  ) {
    this.onnxCounter = firstOnnxId;
  }

  /** Float data in the graph's float type (fp16 as bit patterns). */
  floats(values: Float32Array): TensorData {
    return this.dtype === 'float16' ? toFloat16(values) : values;
  }

  /** A random weight, made only when it is written (lazy). */
  randomWeight(name: string, dims: number[], std: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(name, () => this.floats(randomNormal(this.seed, name, count, std)), dims, this.dtype);
  }

  filled(name: string, dims: number[], value: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(name, () => this.floats(new Float32Array(count).fill(value)), dims, this.dtype);
  }

  onnxName(kind: string): string {
    return `onnx::${kind}_${this.onnxCounter++}`;
  }

  /** A float constant in the graph's float type (deduplicated, as torch's constant folding shares them). */
  scalar(value: number, dims: number[] = []): string {
    const key = `${this.dtype}:${value}:${dims}`;
    let name = this.constCache.get(key);
    if (!name) {
      const count = dims.reduce((a, b) => a * b, 1);
      name = this.g.initializer(this.onnxName('Const'), this.floats(new Float32Array(count).fill(value)), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A float32 constant regardless of the graph type (Resize scales, timestep math). */
  f32(values: number[], dims: number[] = [values.length]): string {
    const key = `f32:${values}:${dims}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.g.initializer(this.onnxName('Const'), Float32Array.from(values), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  i64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${values}:${dims}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.g.initializer(this.onnxName('Const'), BigInt64Array.from(values.map(BigInt)), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** One node named `${scope}/${op}` (deduplicated with `_N`); returns its outputs. */
  op(scope: string, opType: string, inputs: string[], attrs: Parameters<GraphBuilder['node']>[3] = {}, outputs = 1): string[] {
    const base = `${scope}/${opType}`;
    const n = this.nodeNames.get(base) ?? 0;
    this.nodeNames.set(base, n + 1);
    const name = n === 0 ? base : `${base}_${n}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.g.node(opType, inputs, outs, attrs, name);
    return outs;
  }

  op1(scope: string, opType: string, inputs: string[], attrs: Parameters<GraphBuilder['node']>[3] = {}): string {
    return this.op(scope, opType, inputs, attrs)[0];
  }

  /** `/a/b.0/c` → `a.b.0.c`: the module path torch's scope names encode. */
  static modulePath(scope: string): string {
    return scope.replace(/^\//, '').replace(/\//g, '.');
  }

  /** nn.Linear applied to a 3-D input (torch: MatMul with transposed `onnx::MatMul_N`, then Add bias). */
  linear(scope: string, x: string, inF: number, outF: number, bias: boolean, std = 0.02): string {
    const module = Net.modulePath(scope);
    const w = this.randomWeight(this.onnxName('MatMul'), [inF, outF], std);
    const node = `${scope}/MatMul`;
    let y = this.op1(scope, 'MatMul', [x, w]);
    this.linears.push({ module, initializer: w, node, op: 'MatMul', dims: [inF, outF] });
    if (bias) y = this.op1(scope, 'Add', [this.randomWeight(`${module}.bias`, [outF], std), y]);
    return y;
  }

  /** nn.Linear with bias on a 2-D input (torch's addmm → Gemm transB=1, weight [out, in] under its own name). */
  gemm(scope: string, x: string, inF: number, outF: number, std = 0.02): string {
    const module = Net.modulePath(scope);
    const w = this.randomWeight(`${module}.weight`, [outF, inF], std);
    const b = this.randomWeight(`${module}.bias`, [outF], std);
    this.linears.push({ module, initializer: w, node: `${scope}/Gemm`, op: 'Gemm', dims: [outF, inF] });
    return this.op1(scope, 'Gemm', [x, w, b], { alpha: attrFloat(1), beta: attrFloat(1), transB: 1 });
  }

  conv(scope: string, x: string, inC: number, outC: number, k: number, stride = 1): string {
    const module = Net.modulePath(scope);
    // std 1/sqrt(fan_in) keeps conv outputs the size of their inputs (the order of torch's default init).
    const w = this.randomWeight(`${module}.weight`, [outC, inC, k, k], 1 / Math.sqrt(inC * k * k));
    const b = this.randomWeight(`${module}.bias`, [outC], 0.02);
    const pad = (k - 1) >> 1;
    this.linears.push({ module, initializer: w, node: `${scope}/Conv`, op: 'Conv', dims: [outC, inC, k, k] });
    return this.op1(scope, 'Conv', [x, w, b], {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [k, k],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
    });
  }

  /** nn.LayerNorm → LayerNormalization (opset 17), parameters under their own names. */
  layerNorm(scope: string, x: string, c: number, eps = 1e-5): string {
    const module = Net.modulePath(scope);
    const w = this.filled(`${module}.weight`, [c], 1);
    const b = this.filled(`${module}.bias`, [c], 0);
    return this.op1(scope, 'LayerNormalization', [x, w, b], { axis: -1, epsilon: attrFloat(eps) });
  }

  /**
   * nn.GroupNorm as torch exports it below opset 18: Reshape to [B, G, -1],
   * InstanceNormalization with unit scale, Reshape back, then the affine as Mul/Add with
   * constant-folded [C, 1, 1] parameters.
   */
  groupNorm(scope: string, x: string, c: number, groups: number, eps = 1e-5): string {
    const shape = this.op1(scope, 'Shape', [x]);
    const grouped = this.op1(scope, 'Reshape', [x, this.i64([0, groups, -1])]);
    const normed = this.op1(scope, 'InstanceNormalization', [grouped, this.scalar(1, [groups]), this.scalar(0, [groups])], {
      epsilon: attrFloat(eps),
    });
    const back = this.op1(scope, 'Reshape', [normed, shape]);
    const scaled = this.op1(scope, 'Mul', [back, this.filled(this.onnxName('Mul'), [c, 1, 1], 1)]);
    return this.op1(scope, 'Add', [scaled, this.filled(this.onnxName('Add'), [c, 1, 1], 0)]);
  }

  /** SiLU as torch exports it at opset 17: x * Sigmoid(x). */
  silu(scope: string, x: string): string {
    return this.op1(scope, 'Mul', [x, this.op1(scope, 'Sigmoid', [x])]);
  }

  /** Exact GELU at opset 17: x * 0.5 * (1 + erf(x / sqrt 2)). */
  gelu(scope: string, x: string): string {
    const e = this.op1(scope, 'Erf', [this.op1(scope, 'Div', [x, this.scalar(Math.SQRT2)])]);
    const onePlus = this.op1(scope, 'Add', [e, this.scalar(1)]);
    return this.op1(scope, 'Mul', [this.op1(scope, 'Mul', [x, onePlus]), this.scalar(0.5)]);
  }

  /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
  quickGelu(scope: string, x: string): string {
    return this.op1(scope, 'Mul', [x, this.op1(scope, 'Sigmoid', [this.op1(scope, 'Mul', [x, this.scalar(1.702)])])]);
  }

  cast(scope: string, x: string, to: ElemType): string {
    const code = { float32: 1, float16: 10, int32: 6, int64: 7, bool: 9 }[to];
    return this.op1(scope, 'Cast', [x], { to: code });
  }

  /**
   * Multi-head attention on [B, N, C] queries and [B, M, Ck] context as diffusers' Attention
   * exports: to_q/to_k/to_v Linear (no bias in the UNet), heads split by Reshape/Transpose,
   * softmax(q·kᵀ·scale), to_out.0 Linear with bias. `mask` is added to the scores (CLIP's causal mask).
   */
  attention(
    scope: string,
    x: string,
    context: string,
    c: number,
    contextDim: number,
    heads: number,
    names: { q: string; k: string; v: string; out: string },
    qkvBias: boolean,
    mask?: string,
  ): string {
    const d = c / heads;
    if (!Number.isInteger(d)) throw new Error(`${scope}: ${c} channels do not split into ${heads} heads`);
    const q = this.linear(`${scope}/${names.q}`, x, c, c, qkvBias);
    const k = this.linear(`${scope}/${names.k}`, context, contextDim, c, qkvBias);
    const v = this.linear(`${scope}/${names.v}`, context, contextDim, c, qkvBias);
    const split = (t: string, perm: number[]): string =>
      this.op1(scope, 'Transpose', [this.op1(scope, 'Reshape', [t, this.i64([0, -1, heads, d])])], { perm });
    const qh = split(q, [0, 2, 1, 3]);
    const kh = split(k, [0, 2, 3, 1]);
    const vh = split(v, [0, 2, 1, 3]);
    let scores = this.op1(scope, 'Mul', [this.op1(scope, 'MatMul', [qh, kh]), this.scalar(1 / Math.sqrt(d))]);
    if (mask) scores = this.op1(scope, 'Add', [scores, mask]);
    const probs = this.op1(scope, 'Softmax', [scores], { axis: -1 });
    const ctx = this.op1(scope, 'MatMul', [probs, vh]);
    const merged = this.op1(scope, 'Reshape', [this.op1(scope, 'Transpose', [ctx], { perm: [0, 2, 1, 3] }), this.i64([0, -1, c])]);
    return this.linear(`${scope}/${names.out}`, merged, c, c, true);
  }
}
