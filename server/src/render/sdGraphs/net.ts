import { GraphBuilder, StoredType, TensorData, attrFloat } from '../onnx/onnxWriter';
import { toFloat16 } from '../onnx/half';
import { PipelineComponent, WeightDtype, WeightSource } from './architecture';
import { randomNormal } from './randomWeights';

/**
 * Layer helpers that emit ONNX the way torch.onnx (TorchScript exporter, opset 17) does for
 * the modules an SD pipeline uses, so the graphs built here read like real exports to the code
 * that reads those (the LoRA merge above all):
 *  - nn.Linear on a 3-D input → MatMul on an [in, out] weight, then Add with the bias under its
 *    parameter name. Random weights are made in that layout as torch's constant-folded
 *    `onnx::MatMul_N`; a checkpoint's weight keeps its bytes ([out, in] under its parameter
 *    name) and feeds a Gemm transB=1 over the input flattened to 2-D (the LoRA index reads Gemm
 *    weights as [out, in], and follows a Cast);
 *  - nn.Linear on a 2-D input with bias → Gemm(transB=1) with the weight under its parameter
 *    name in [out, in] layout (torch's addmm path);
 *  - Conv keeps parameter names (`down_blocks.0.resnets.0.conv1.weight`);
 *  - node names are module scopes (`/down_blocks.0/attentions.0/.../to_k/MatMul`), repeated
 *    op types in one scope get `_1`, `_2`; outputs are `<node name>_output_0`;
 *  - a checkpoint weight stored in another type than the graph computes in (fp16/bf16 in an
 *    fp32 graph) goes through a Cast in its module's scope.
 */

/** A Linear/Conv weight as the graph lays it out: what a LoRA merge must find. */
export interface LinearRecord {
  /** Module path as in a diffusers/transformers state dict (`down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k`). */
  module: string;
  /** The weight initializer. */
  initializer: string;
  /** The node that consumes it. */
  node: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** Initializer dims as stored ([in, out] for a random MatMul weight, [out, in] for a checkpoint's or a Gemm's, [out, in, k, k] for Conv). */
  dims: number[];
}

export type FloatType = 'float32' | 'float16';

/**
 * onnxruntime contrib ops (domain com.microsoft) a graph may use instead of the plain opset-17 form. Each is
 * switched on its own so a test can compare it with the plain form; which ones a device gets is decided in
 * graphOptions.ts (graphFormFor). What onnxruntime-node 1.30 runs was probed with one-node graphs
 * (docs/rendering.md, "Fused forms per execution provider").
 */
export interface FusedForms {
  /** MultiHeadAttention over the separate q/k/v projections (unmasked attention: UNet and VAE). */
  attention?: boolean;
  /** SkipLayerNormalization: a transformer block's residual add and the next LayerNorm in one node (UNet). */
  skipLayerNorm?: boolean;
  /** Gelu (exact erf form, as torch's default) for the GEGLU gate (UNet). */
  gelu?: boolean;
}

/** Where a graph's weights come from: made from a seed (test pipelines) or a pipeline's weight source (a checkpoint). */
export type GraphWeights = { kind: 'random'; seed: number } | { kind: 'source'; source: WeightSource; component: PipelineComponent };

/** How a random weight starts: normal with this std, or every element equal to `fill` (norm scales and shifts). */
export type RandomInit = { std: number } | { fill: number };

const DTYPE_BYTES: Record<WeightDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Shapes equal up to trailing 1s: LDM stores the VAE's attention projections as 1×1 convs [C, C, 1, 1] where diffusers has Linear [C, C]. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  const trim = (s: readonly number[]): number[] => {
    const out = [...s];
    while (out.length > 1 && out[out.length - 1] === 1) out.pop();
    return out;
  };
  const x = trim(a);
  const y = trim(b);
  return x.length === y.length && x.every((d, i) => d === y[i]);
}

export class Net {
  readonly linears: LinearRecord[] = [];
  private readonly nodeNames = new Map<string, number>();
  private onnxCounter: number;
  private readonly constCache = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    /** The type the graph computes in (its float inputs, outputs and constants). */
    readonly dtype: FloatType,
    readonly weights: GraphWeights,
    /** Where `onnx::X_N` numbering starts; torch's numbers are value ids, large and increasing. */
    firstOnnxId = 1000,
    /**
     * The contrib ops to use (the caller imports the com.microsoft opset). With attention fused, the LoRA
     * index still finds each q/k/v projection's weight: they stay separate Linear nodes.
     */
    readonly fusedForms: FusedForms = {},
  ) {
    this.onnxCounter = firstOnnxId;
  }

  get fusedAttention(): boolean {
    return this.fusedForms.attention ?? false;
  }

  /** Parts of an fp16 graph computed in fp32 (normalisation statistics, softmax), as diffusers/optimum keep them. */
  private get keepsFp32(): boolean {
    return this.dtype === 'float16';
  }

  /** Float data in the graph's float type (fp16 as bit patterns). */
  floats(values: Float32Array): TensorData {
    return this.dtype === 'float16' ? toFloat16(values) : values;
  }

  private get seed(): number {
    if (this.weights.kind !== 'random') throw new Error('random weights asked of a graph built from a weight source');
    return this.weights.seed;
  }

  /** A random weight, made only when it is written (lazy). */
  randomWeight(name: string, dims: number[], std: number, type: FloatType = this.dtype): string {
    const seed = this.seed;
    const data = (): TensorData => (type === 'float16' ? toFloat16(randomNormal(seed, name, count(dims), std)) : randomNormal(seed, name, count(dims), std));
    return this.g.initializer(name, data, dims, type);
  }

  filled(name: string, dims: number[], value: number, type: FloatType = this.dtype): string {
    const data = (): TensorData => (type === 'float16' ? toFloat16(new Float32Array(count(dims)).fill(value)) : new Float32Array(count(dims)).fill(value));
    return this.g.initializer(name, data, dims, type);
  }

  /**
   * A parameter of the pipeline (`text_model.final_layer_norm.weight`) with PyTorch shape `shape`, as a value in
   * the graph's type with dims `graphDims`: random (from `init`), or the weight source's bytes, cast in `scope`
   * when stored in another type.
   */
  param(scope: string, name: string, shape: number[], init: RandomInit, graphDims: number[] = shape, type: FloatType = this.dtype): string {
    if (this.weights.kind === 'random') {
      return 'std' in init ? this.randomWeight(name, graphDims, init.std, type) : this.filled(name, graphDims, init.fill, type);
    }
    return this.sourced(scope, name, shape, graphDims, type);
  }

  /** A weight source's tensor as an initializer over its own bytes (cast to the graph's type in `scope` when it differs). */
  private sourced(scope: string, name: string, shape: number[], graphDims: number[], type: FloatType): string {
    if (this.weights.kind !== 'source') throw new Error(`${name}: no weight source`);
    const { source, component } = this.weights;
    const ref = source.weight(component, name);
    if (!sameShape(ref.shape, shape)) {
      throw new Error(`${component} weight ${name} has shape [${ref.shape}] where the architecture needs [${shape}]`);
    }
    const bytes = count(shape) * DTYPE_BYTES[ref.dtype];
    const length = 'file' in ref.data ? ref.data.length : ref.data.bytes.byteLength;
    if (length !== bytes) throw new Error(`${component} weight ${name}: ${length} bytes where ${ref.dtype} [${ref.shape}] takes ${bytes}`);
    const stored: StoredType = ref.dtype;
    const init = this.g.initializerBytes(name, stored, graphDims, ref.data);
    // A weight stored in another type goes through a Cast that ORT folds once when the session is created. Rounding
    // fp32 bytes to fp16 here instead (half.ts) would write the rounded weights into the graph cache: a copy of
    // the model on disk, which the cache must never hold (graphFiles.ts).
    return stored === type ? init : this.cast(scope, init, type);
  }

  /** A random Linear's weight as torch.onnx folds it: `onnx::MatMul_N` in [in, out] layout, for a MatMul. */
  linearWeight(inF: number, outF: number, std: number): { value: string; initializer: string; dims: number[] } {
    const w = this.randomWeight(this.onnxName('MatMul'), [inF, outF], std);
    return { value: w, initializer: w, dims: [inF, outF] };
  }

  onnxName(kind: string): string {
    return `onnx::${kind}_${this.onnxCounter++}`;
  }

  /** A float constant in the graph's float type (deduplicated, as torch's constant folding shares them). */
  scalar(value: number, dims: number[] = []): string {
    const key = `${this.dtype}:${value}:${dims}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.g.initializer(this.onnxName('Const'), this.floats(new Float32Array(count(dims)).fill(value)), dims);
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

  /**
   * nn.Linear applied to a 3-D input. Random weights: torch's MatMul on the [in, out] weight, then Add bias.
   * A source's [out, in] weight: the input flattened to 2-D, Gemm transB=1 (bias inside), reshaped back, so
   * ORT uses the bytes as stored instead of folding a transposed copy at load (measured: Cast+Transpose
   * folding took twice the time of Cast alone; docs/rendering.md).
   */
  linear(scope: string, x: string, inF: number, outF: number, bias: boolean, std = 0.02): string {
    const module = Net.modulePath(scope);
    if (this.weights.kind === 'source') {
      const w = this.param(scope, `${module}.weight`, [outF, inF], { std });
      const b = bias ? [this.param(scope, `${module}.bias`, [outF], { std })] : [];
      const lead = this.op1(scope, 'Slice', [this.op1(scope, 'Shape', [x]), this.i64([0]), this.i64([-1]), this.i64([0])]);
      const flat = this.op1(scope, 'Reshape', [x, this.i64([-1, inF])]);
      const y2 = this.op1(scope, 'Gemm', [flat, w, ...b], { alpha: attrFloat(1), beta: attrFloat(1), transB: 1 });
      this.linears.push({ module, initializer: `${module}.weight`, node: `${scope}/Gemm`, op: 'Gemm', dims: [outF, inF] });
      return this.op1(scope, 'Reshape', [y2, this.op1(scope, 'Concat', [lead, this.i64([outF])], { axis: 0 })]);
    }
    const w = this.linearWeight(inF, outF, std);
    const node = `${scope}/MatMul`;
    let y = this.op1(scope, 'MatMul', [x, w.value]);
    this.linears.push({ module, initializer: w.initializer, node, op: 'MatMul', dims: w.dims });
    if (bias) y = this.op1(scope, 'Add', [this.param(scope, `${module}.bias`, [outF], { std }), y]);
    return y;
  }

  /** nn.Linear with bias on a 2-D input (torch's addmm → Gemm transB=1, weight [out, in] under its own name). */
  gemm(scope: string, x: string, inF: number, outF: number, std = 0.02): string {
    const module = Net.modulePath(scope);
    const w = this.param(scope, `${module}.weight`, [outF, inF], { std });
    const b = this.param(scope, `${module}.bias`, [outF], { std });
    this.linears.push({ module, initializer: `${module}.weight`, node: `${scope}/Gemm`, op: 'Gemm', dims: [outF, inF] });
    return this.op1(scope, 'Gemm', [x, w, b], { alpha: attrFloat(1), beta: attrFloat(1), transB: 1 });
  }

  conv(scope: string, x: string, inC: number, outC: number, k: number, stride = 1): string {
    const module = Net.modulePath(scope);
    // std 1/sqrt(fan_in) keeps conv outputs the size of their inputs (the order of torch's default init).
    const w = this.param(scope, `${module}.weight`, [outC, inC, k, k], { std: 1 / Math.sqrt(inC * k * k) });
    const b = this.param(scope, `${module}.bias`, [outC], { std: 0.02 });
    const pad = (k - 1) >> 1;
    this.linears.push({ module, initializer: `${module}.weight`, node: `${scope}/Conv`, op: 'Conv', dims: [outC, inC, k, k] });
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
    // In an fp16 graph the statistics are taken in fp32 (a 320-wide mean of squares overflows or loses fp16's 11 bits).
    const type: FloatType = this.keepsFp32 ? 'float32' : this.dtype;
    const w = this.param(scope, `${module}.weight`, [c], { fill: 1 }, [c], type);
    const b = this.param(scope, `${module}.bias`, [c], { fill: 0 }, [c], type);
    if (type === this.dtype) return this.op1(scope, 'LayerNormalization', [x, w, b], { axis: -1, epsilon: attrFloat(eps) });
    const normed = this.op1(scope, 'LayerNormalization', [this.cast(scope, x, 'float32'), w, b], { axis: -1, epsilon: attrFloat(eps) });
    return this.cast(scope, normed, this.dtype);
  }

  /**
   * `skip + x` and the LayerNorm after it, as one com.microsoft SkipLayerNormalization when that form is on
   * (the sum is its 4th output, the residual the block goes on with); else the plain Add and LayerNormalization.
   * The fused node keeps the graph's type at its edges: onnxruntime's kernels accumulate the statistics in fp32.
   */
  addLayerNorm(scope: string, addScope: string, x: string, skip: string, c: number, eps = 1e-5): { sum: string; normed: string } {
    if (!this.fusedForms.skipLayerNorm) {
      const sum = this.op1(addScope, 'Add', [x, skip]);
      return { sum, normed: this.layerNorm(scope, sum, c, eps) };
    }
    const module = Net.modulePath(scope);
    const w = this.param(scope, `${module}.weight`, [c], { fill: 1 });
    const b = this.param(scope, `${module}.bias`, [c], { fill: 0 });
    const name = `${scope}/SkipLayerNormalization`;
    const normed = `${name}_output_0`;
    const sum = `${name}_output_3`;
    this.g.node('SkipLayerNormalization', [x, skip, w, b], [normed, '', '', sum], { epsilon: attrFloat(eps) }, name, 'com.microsoft');
    return { sum, normed };
  }

  /**
   * nn.GroupNorm as torch exports it below opset 18: Reshape to [B, G, -1],
   * InstanceNormalization with unit scale, Reshape back, then the affine as Mul/Add with
   * [C, 1, 1] parameters (torch folds them into `onnx::Mul_N`; a checkpoint's [C] bytes are read as [C, 1, 1]).
   */
  groupNorm(scope: string, x: string, c: number, groups: number, eps = 1e-5): string {
    const shape = this.op1(scope, 'Shape', [x]);
    const grouped = this.op1(scope, 'Reshape', [x, this.i64([0, groups, -1])]);
    // In an fp16 graph the group statistics are taken in fp32 (as diffusers' fp16 pipelines upcast GroupNorm).
    const normed = this.keepsFp32
      ? this.cast(scope, this.op1(scope, 'InstanceNormalization', [this.cast(scope, grouped, 'float32'), this.f32(new Array(groups).fill(1), [groups]), this.f32(new Array(groups).fill(0), [groups])], { epsilon: attrFloat(eps) }), this.dtype)
      : this.op1(scope, 'InstanceNormalization', [grouped, this.scalar(1, [groups]), this.scalar(0, [groups])], { epsilon: attrFloat(eps) });
    const back = this.op1(scope, 'Reshape', [normed, shape]);
    const module = Net.modulePath(scope);
    const random = this.weights.kind === 'random';
    const scale = this.param(scope, random ? this.onnxName('Mul') : `${module}.weight`, [c], { fill: 1 }, [c, 1, 1]);
    const scaled = this.op1(scope, 'Mul', [back, scale]);
    const shift = this.param(scope, random ? this.onnxName('Add') : `${module}.bias`, [c], { fill: 0 }, [c, 1, 1]);
    return this.op1(scope, 'Add', [scaled, shift]);
  }

  /** SiLU as torch exports it at opset 17: x * Sigmoid(x). */
  silu(scope: string, x: string): string {
    return this.op1(scope, 'Mul', [x, this.op1(scope, 'Sigmoid', [x])]);
  }

  /** Exact GELU at opset 17: x * 0.5 * (1 + erf(x / sqrt 2)). */
  gelu(scope: string, x: string): string {
    if (this.fusedForms.gelu) {
      // com.microsoft Gelu is the erf form (FastGelu is the tanh approximation, 1e-3 off; BiasGelu needs the
      // bias outside the projection, where the checkpoint's Gemm keeps it): same function, one kernel.
      const name = `${scope}/Gelu`;
      this.g.node('Gelu', [x], [`${name}_output_0`], {}, name, 'com.microsoft');
      return `${name}_output_0`;
    }
    const e = this.op1(scope, 'Erf', [this.op1(scope, 'Div', [x, this.scalar(Math.SQRT2)])]);
    const onePlus = this.op1(scope, 'Add', [e, this.scalar(1)]);
    return this.op1(scope, 'Mul', [this.op1(scope, 'Mul', [x, onePlus]), this.scalar(0.5)]);
  }

  /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
  quickGelu(scope: string, x: string): string {
    return this.op1(scope, 'Mul', [x, this.op1(scope, 'Sigmoid', [this.op1(scope, 'Mul', [x, this.scalar(1.702)])])]);
  }

  cast(scope: string, x: string, to: StoredType): string {
    const code = { float32: 1, float16: 10, bfloat16: 16, int32: 6, int64: 7, bool: 9 }[to];
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
    // Masked (CLIP's causal) attention keeps the plain form: MultiHeadAttention with the mask as attention_bias
    // agreed on the CPU EP but not on WebGPU (lavapipe: text encoder rows off by 0.7%), and the text encoder
    // runs once a render where the UNet runs every step.
    if (this.fusedAttention && !mask) {
      const name = `${scope}/MultiHeadAttention`;
      this.g.node('MultiHeadAttention', [q, k, v], [`${name}_output_0`], { num_heads: heads, scale: attrFloat(1 / Math.sqrt(d)) }, name, 'com.microsoft');
      return this.linear(`${scope}/${names.out}`, `${name}_output_0`, c, c, true);
    }
    const split = (t: string, perm: number[]): string =>
      this.op1(scope, 'Transpose', [this.op1(scope, 'Reshape', [t, this.i64([0, -1, heads, d])])], { perm });
    const qh = split(q, [0, 2, 1, 3]);
    const kh = split(k, [0, 2, 3, 1]);
    const vh = split(v, [0, 2, 1, 3]);
    let scores = this.op1(scope, 'Mul', [this.op1(scope, 'MatMul', [qh, kh]), this.scalar(1 / Math.sqrt(d))]);
    if (mask) scores = this.op1(scope, 'Add', [scores, mask]);
    // fp16 graphs take the softmax in fp32 (scores past 11 bits of precision decide which tokens are attended).
    const probs = this.keepsFp32
      ? this.cast(scope, this.op1(scope, 'Softmax', [this.cast(scope, scores, 'float32')], { axis: -1 }), this.dtype)
      : this.op1(scope, 'Softmax', [scores], { axis: -1 });
    const ctx = this.op1(scope, 'MatMul', [probs, vh]);
    const merged = this.op1(scope, 'Reshape', [this.op1(scope, 'Transpose', [ctx], { perm: [0, 2, 1, 3] }), this.i64([0, -1, c])]);
    return this.linear(`${scope}/${names.out}`, merged, c, c, true);
  }
}
