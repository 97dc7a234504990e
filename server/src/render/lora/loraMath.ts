import type { LoraModule } from './loraKeys';
import type { LoraTensor } from './loraTensors';

/**
 * The weight delta of one LoRA module, in the target module's torch layout ([out, in] for a Linear,
 * [out, in, kh, kw] for a Conv2d), as AUTOMATIC1111's Lora extension computes it (network.py and
 * network_{lora,hada,lokr,full}.py): ΔW = multiplier · scale · core, scale = alpha/rank when the file
 * has both, else 1 (a `scale` tensor overrides), and with DoRA the decomposed form instead.
 *
 * These are plain JS loops: the reference the fast ORT GEMM path is tested against, and the fallback
 * for odd shapes. Products go row by row (i-k-j order) so the inner loop runs over contiguous memory,
 * and each output row is accumulated in fp64 before it is stored, so the result is the fp32 rounding
 * of the exact product rather than of a chain of fp32 partial sums.
 */

export interface LoraMathError {
  error: string;
}

export interface DeltaOptions {
  /** The module's current weight in the target layout: DoRA normalises W + ΔW, so it needs W. */
  baseWeight?: Float32Array;
  /** A1111's `dyn` from the tag: use only the first `dyn` ranks of a plain LoRA (scale keeps the full rank). */
  dyn?: number;
}

/** A row-major matrix whose rows are dim 0 of a torch tensor and whose columns are all other dims flattened. */
interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** A computed core with the torch shape it has (2-D, or 4-D when a conv kernel is explicit). */
interface Core {
  dims: number[];
  data: Float32Array;
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function shapeText(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/** A tensor as rows × (everything else), the way A1111 `reshape(shape[0], -1)`s before a product. */
function asMatrix(tensor: LoraTensor): Matrix {
  const rows = tensor.dims.length === 0 ? 1 : tensor.dims[0];
  return { rows, cols: rows === 0 ? 0 : tensor.data.length / rows, data: tensor.data };
}

function scalar(tensor: LoraTensor | undefined): number | undefined {
  return tensor === undefined || tensor.data.length !== 1 ? undefined : tensor.data[0];
}

/** C = A · B with A [m × k] and B [k × n]; fp64 row accumulator, contiguous inner loop. */
export function matmul(a: Float32Array, m: number, k: number, b: Float32Array, n: number): Float32Array {
  const out = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    const aRow = i * k;
    for (let p = 0; p < k; p++) {
      const factor = a[aRow + p];
      if (factor === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) row[j] += factor * b[bRow + j];
    }
    out.set(row, i * n);
  }
  return out;
}

/** Kronecker product of A [am × an] and B [bm × bn] → [am·bm × an·bn] (torch.kron on 2-D). */
export function kron(a: Float32Array, am: number, an: number, b: Float32Array, bm: number, bn: number): Float32Array {
  const cols = an * bn;
  const out = new Float32Array(am * bm * cols);
  for (let i1 = 0; i1 < am; i1++) {
    for (let i2 = 0; i2 < bm; i2++) {
      const outRow = (i1 * bm + i2) * cols;
      for (let j1 = 0; j1 < an; j1++) {
        const factor = a[i1 * an + j1];
        const base = outRow + j1 * bn;
        const bRow = i2 * bn;
        for (let j2 = 0; j2 < bn; j2++) out[base + j2] = factor * b[bRow + j2];
      }
    }
  }
  return out;
}

/**
 * Tucker reconstruction out[o, j, s] = Σ_n Σ_m left[o, n] · core[n, m, s] · right[m, j], with `s` the
 * kernel positions. Both A1111 forms are this one: `rebuild_cp_decomposition(up, down, mid)` (left =
 * up [out × r]) and `make_weight_cp(t, wa, wb)` (left = waᵀ, wa being stored [r × out]).
 */
function tucker(left: Float32Array, out: number, r1: number, core: Float32Array, r2: number, kernel: number, right: Float32Array, inputs: number): Float32Array {
  // First T[n, j, s] = Σ_m core[n, m, s] · right[m, j]: r1 × (inputs·kernel), then left · T.
  const width = inputs * kernel;
  const t = new Float32Array(r1 * width);
  const acc = new Float64Array(width);
  for (let n = 0; n < r1; n++) {
    acc.fill(0);
    for (let m = 0; m < r2; m++) {
      const coreBase = (n * r2 + m) * kernel;
      for (let j = 0; j < inputs; j++) {
        const factor = right[m * inputs + j];
        if (factor === 0) continue;
        const base = j * kernel;
        for (let s = 0; s < kernel; s++) acc[base + s] += factor * core[coreBase + s];
      }
    }
    t.set(acc, n * width);
  }
  return matmul(left, out, r1, t, width);
}

/** A row-major [rows × cols] matrix as [cols × rows]: the render engine's one transpose (merge.ts uses it for stored layouts). */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** make_weight_cp(t [r1, r2, kh, kw], wa [r1, out], wb [r2, in]) → [out, in, kh, kw]. */
function cpWeight(t: LoraTensor, wa: LoraTensor, wb: LoraTensor): Core | string {
  if (t.dims.length !== 4) return `Tucker core ${shapeText(t.dims)} is not 4-D`;
  const [r1, r2, kh, kw] = t.dims;
  const a = asMatrix(wa);
  const b = asMatrix(wb);
  if (a.rows !== r1 || b.rows !== r2) return `Tucker core ${shapeText(t.dims)} does not fit factors ${shapeText(wa.dims)} and ${shapeText(wb.dims)}`;
  return { dims: [a.cols, b.cols, kh, kw], data: tucker(transpose(a.data, a.rows, a.cols), a.cols, r1, t.data, r2, kh * kw, b.data, b.cols) };
}

/** a @ b for two stored factors, with the shape A1111 gives the product (4-D when b carries a kernel). */
function factorProduct(a: LoraTensor, b: LoraTensor, what: string): Core | string {
  const left = asMatrix(a);
  const right = asMatrix(b);
  if (left.cols !== right.rows) return `${what}: ${shapeText(a.dims)} @ ${shapeText(b.dims)} do not chain`;
  const dims = b.dims.length === 4 ? [left.rows, b.dims[1], b.dims[2], b.dims[3]] : [left.rows, right.cols];
  return { dims, data: matmul(left.data, left.rows, left.cols, right.data, right.cols) };
}

// ---- cores per kind -----------------------------------------------------------------------------

type Tensors = LoraModule<LoraTensor>['tensors'];

function loraCore(t: Tensors, dyn: number | undefined): Core | string {
  const up = t.up as LoraTensor;
  const down = t.down as LoraTensor;
  const u = asMatrix(up);
  const d = asMatrix(down);
  if (t.mid !== undefined) {
    // LoCon with Tucker: up [out, r, 1, 1], mid [r, r, kh, kw], down [r, in, 1, 1].
    const mid = t.mid;
    if (mid.dims.length !== 4 || mid.dims[0] !== u.cols || mid.dims[1] !== d.rows) {
      return `lora_mid ${shapeText(mid.dims)} does not fit up ${shapeText(up.dims)} and down ${shapeText(down.dims)}`;
    }
    const [r1, r2, kh, kw] = mid.dims;
    return { dims: [u.rows, d.cols, kh, kw], data: tucker(u.data, u.rows, r1, mid.data, r2, kh * kw, d.data, d.cols) };
  }
  if (u.cols !== d.rows) return `up ${shapeText(up.dims)} and down ${shapeText(down.dims)} have different ranks`;
  // Conv LoCon: down carries the kernel [r, in, kh, kw], up is 1×1: the product keeps down's kernel.
  const dims = down.dims.length === 4 ? [u.rows, down.dims[1], down.dims[2], down.dims[3]] : [u.rows, d.cols];
  let rank = u.cols;
  let upData = u.data;
  if (dyn !== undefined && dyn > 0 && dyn < rank) {
    // A1111 rebuild_conventional: up[:, :dyn] @ down[:dyn, :].
    upData = new Float32Array(u.rows * dyn);
    for (let i = 0; i < u.rows; i++) upData.set(u.data.subarray(i * rank, i * rank + dyn), i * dyn);
    rank = dyn;
  }
  return { dims, data: matmul(upData, u.rows, rank, d.data, d.cols) };
}

function lohaCore(t: Tensors): Core | string {
  const half = (a: LoraTensor, b: LoraTensor, core: LoraTensor | undefined, n: 1 | 2) =>
    core !== undefined ? cpWeight(core, a, b) : factorProduct(a, b, `hada_w${n}_a @ hada_w${n}_b`);
  const first = half(t.w1a as LoraTensor, t.w1b as LoraTensor, t.t1, 1);
  if (typeof first === 'string') return first;
  const second = half(t.w2a as LoraTensor, t.w2b as LoraTensor, t.t2, 2);
  if (typeof second === 'string') return second;
  if (first.data.length !== second.data.length || first.dims[0] !== second.dims[0]) {
    return `LoHa halves ${shapeText(first.dims)} and ${shapeText(second.dims)} differ`;
  }
  const data = new Float32Array(first.data.length);
  for (let i = 0; i < data.length; i++) data[i] = first.data[i] * second.data[i];
  return { dims: first.dims, data };
}

function lokrCore(t: Tensors): Core | string {
  // kron only reads its inputs, so stored w1/w2 are used without copying.
  const w1 = t.w1 !== undefined ? { dims: t.w1.dims, data: t.w1.data } : factorProduct(t.w1a as LoraTensor, t.w1b as LoraTensor, 'lokr_w1_a @ lokr_w1_b');
  if (typeof w1 === 'string') return w1;
  const w2 =
    t.w2 !== undefined
      ? { dims: t.w2.dims, data: t.w2.data }
      : t.t2 !== undefined
        ? cpWeight(t.t2, t.w2a as LoraTensor, t.w2b as LoraTensor)
        : factorProduct(t.w2a as LoraTensor, t.w2b as LoraTensor, 'lokr_w2_a @ lokr_w2_b');
  if (typeof w2 === 'string') return w2;
  if (w1.dims.length !== 2) return `lokr_w1 ${shapeText(w1.dims)} is not 2-D`;
  const [a, b] = w1.dims;
  if (w2.dims.length === 4) {
    // A1111 make_kron: w1 becomes [a, b, 1, 1], so kron keeps w2's kernel: [a·c, b·d, kh, kw].
    const [c, d, kh, kw] = w2.dims;
    const kernel = kh * kw;
    const m2 = kron(w1.data, a, b, w2.data, c, d * kernel);
    // kron on [c, d·k] interleaves as (j1, j2, s); [b·d, kh, kw] wants (j1·d + j2)·k + s: the same order.
    return { dims: [a * c, b * d, kh, kw], data: m2 };
  }
  if (w2.dims.length !== 2) return `lokr_w2 ${shapeText(w2.dims)} is neither 2-D nor 4-D`;
  const [c, d] = w2.dims;
  return { dims: [a * c, b * d], data: kron(w1.data, a, b, w2.data, c, d) };
}

/** The rank A1111 divides alpha by (`self.dim`), per kind; undefined means scale 1. */
function rankOf(module: LoraModule<LoraTensor>): number | undefined {
  const t = module.tensors;
  switch (module.kind) {
    case 'lora':
      return t.down?.dims[0];
    case 'loha':
      return t.w1b?.dims[0];
    case 'lokr':
      // network_lokr.py reads w1b's rank, then w2b's overrides it.
      return t.w2b?.dims[0] ?? t.w1b?.dims[0];
    case 'full':
      return undefined;
  }
}

/** alpha/rank, or the file's `scale`, or 1 (A1111 `calc_scale`). */
export function moduleScale(module: LoraModule<LoraTensor>): number {
  const stored = scalar(module.tensors.scale);
  if (stored !== undefined) return stored;
  const alpha = scalar(module.tensors.alpha);
  const rank = rankOf(module);
  return alpha !== undefined && rank !== undefined && rank > 0 ? alpha / rank : 1;
}

function fitsTarget(dims: readonly number[], count: number, target: readonly number[]): boolean {
  if (target.length === 0 || dims[0] !== target[0] || count !== product(target)) return false;
  // An explicit kernel must be the target's: a 3×3 LoCon never lands on a 1×1 conv by reshaping.
  if (dims.length === 4 && target.length === 4) return dims.every((size, i) => size === target[i]);
  return true;
}

/**
 * DoRA (A1111 `apply_weight_decompose`): W' = m · (W + sΔ) / ‖W + sΔ‖, returned as W' − W. The norm
 * runs per input column when dora_scale is [1, in, …] (LyCORIS, A1111) and per output row when it is
 * [out, 1, …] or a vector of `out` (LyCORIS wd_on_out, PEFT's lora_magnitude_vector).
 */
function doraDelta(name: string, scaled: Float32Array, target: readonly number[], base: Float32Array | undefined, magnitude: LoraTensor): Float32Array | LoraMathError {
  if (base === undefined) return { error: `${name}: DoRA (dora_scale) needs the model's base weight` };
  if (base.length !== scaled.length) return { error: `${name}: base weight has ${base.length} elements, the target shape ${shapeText(target)} ${scaled.length}` };
  const out = target[0];
  const inputs = target.length > 1 ? target[1] : 1;
  const cols = scaled.length / out;
  const kernel = cols / inputs;
  const m = magnitude.dims;
  const ones = (from: number) => m.slice(from).every((size) => size === 1);
  const perInput = m.length >= 2 && m[0] === 1 && m[1] === inputs && ones(2);
  const perOutput = !perInput && magnitude.data.length === out && (m.length === 1 || (m[0] === out && ones(1)));
  if (!perInput && !perOutput) {
    return { error: `${name}: dora_scale ${shapeText(m)} fits neither [1, ${inputs}, …] nor [${out}, 1, …] of the target ${shapeText(target)}` };
  }
  const merged = new Float64Array(scaled.length);
  for (let i = 0; i < merged.length; i++) merged[i] = base[i] + scaled[i];
  const sums = new Float64Array(perInput ? inputs : out);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < cols; c++) {
      const v = merged[o * cols + c];
      sums[perInput ? Math.floor(c / kernel) : o] += v * v;
    }
  }
  const result = new Float32Array(scaled.length);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < cols; c++) {
      const slot = perInput ? Math.floor(c / kernel) : o;
      const norm = Math.sqrt(sums[slot]);
      // A zero column/row has no direction; A1111 would write NaN there. Keep the merged value (0).
      const factor = norm === 0 ? 0 : magnitude.data[slot] / norm;
      const i = o * cols + c;
      result[i] = merged[i] * factor - base[i];
    }
  }
  return result;
}

/**
 * ΔW of `module` for `multiplier` (the tag's te or unet weight), in the layout of a target weight of
 * `targetShape`; an error when the module's shape does not fit (naming the module and both shapes).
 */
export function deltaWeight(
  module: LoraModule<LoraTensor>,
  multiplier: number,
  targetShape: readonly number[],
  options: DeltaOptions = {},
): Float32Array | LoraMathError {
  const name = `${module.component}:${module.module}`;
  let core: Core | string;
  switch (module.kind) {
    case 'lora':
      core = loraCore(module.tensors, options.dyn);
      break;
    case 'loha':
      core = lohaCore(module.tensors);
      break;
    case 'lokr':
      core = lokrCore(module.tensors);
      break;
    case 'full': {
      const diff = module.tensors.diff as LoraTensor;
      // A copy: the scaling below works in place and must not alter the file's tensor.
      core = { dims: diff.dims, data: new Float32Array(diff.data) };
      break;
    }
  }
  if (typeof core === 'string') return { error: `${name} (${module.kind}): ${core}` };
  if (!fitsTarget(core.dims, core.data.length, targetShape)) {
    return { error: `${name}: the ${module.kind} module gives ${shapeText(core.dims)} but the model's weight is ${shapeText(targetShape)}` };
  }
  const scale = moduleScale(module);
  const data = core.data;
  if (module.tensors.doraScale !== undefined) {
    for (let i = 0; i < data.length; i++) data[i] *= scale;
    const dora = doraDelta(name, data, targetShape, options.baseWeight, module.tensors.doraScale);
    if (!(dora instanceof Float32Array)) return dora;
    for (let i = 0; i < dora.length; i++) dora[i] *= multiplier;
    return dora;
  }
  // The core is always a fresh array here, so scaling in place is safe.
  const factor = scale * multiplier;
  for (let i = 0; i < data.length; i++) data[i] *= factor;
  return data;
}

/** A plain LoRA/LoCon module as its two factors: ΔW = scale · up · down, with up [out × rank] and down [rank × cols]. */
export interface LowRankFactors {
  up: Float32Array;
  down: Float32Array;
  rank: number;
  /** alpha/rank (or the file's scale); the tag's multiplier is not in it. */
  scale: number;
}

/**
 * The factors of a plain LoRA or LoCon module (no Tucker mid, no DoRA), so that the product can be
 * computed by a GEMM fused with the add; undefined for every other kind (their ΔW comes from
 * `deltaWeight`), an error when the module does not fit the target. `dyn` keeps the first ranks.
 */
export function lowRankFactors(module: LoraModule<LoraTensor>, targetShape: readonly number[], dyn?: number): LowRankFactors | LoraMathError | undefined {
  const t = module.tensors;
  if (module.kind !== 'lora' || t.mid !== undefined || t.doraScale !== undefined || !t.up || !t.down) return undefined;
  const u = asMatrix(t.up);
  const d = asMatrix(t.down);
  const name = `${module.component}:${module.module}`;
  if (u.cols !== d.rows) return { error: `${name} (lora): up ${shapeText(t.up.dims)} and down ${shapeText(t.down.dims)} have different ranks` };
  const dims = t.down.dims.length === 4 ? [u.rows, t.down.dims[1], t.down.dims[2], t.down.dims[3]] : [u.rows, d.cols];
  if (!fitsTarget(dims, u.rows * d.cols, targetShape)) {
    return { error: `${name}: the lora module gives ${shapeText(dims)} but the model's weight is ${shapeText(targetShape)}` };
  }
  const scale = moduleScale(module);
  if (dyn === undefined || dyn <= 0 || dyn >= u.cols) return { up: u.data, down: d.data, rank: u.cols, scale };
  // A1111 rebuild_conventional: up[:, :dyn] @ down[:dyn, :].
  const up = new Float32Array(u.rows * dyn);
  for (let i = 0; i < u.rows; i++) up.set(u.data.subarray(i * u.cols, i * u.cols + dyn), i * dyn);
  return { up, down: d.data.subarray(0, dyn * d.cols), rank: dyn, scale };
}

/** The bias delta of a `full` module with `diff_b` (A1111 passes it through times the multiplier only). */
export function deltaBias(module: LoraModule<LoraTensor>, multiplier: number, length: number): Float32Array | LoraMathError | undefined {
  const bias = module.tensors.diffBias;
  if (bias === undefined) return undefined;
  if (bias.data.length !== length) {
    return { error: `${module.component}:${module.module}: diff_b has ${bias.data.length} elements but the model's bias ${length}` };
  }
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = bias.data[i] * multiplier;
  return out;
}

export function isLoraMathError(value: unknown): value is LoraMathError {
  return typeof value === 'object' && value !== null && !(value instanceof Float32Array) && typeof (value as LoraMathError).error === 'string';
}
