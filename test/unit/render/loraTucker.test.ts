import * as assert from 'assert';
import { LoraModule, LoraModuleKind, TensorRole } from '../../../server/src/render/lora/loraKeys';
import { deltaWeight } from '../../../server/src/render/lora/loraMath';
import { LoraTensor } from '../../../server/src/render/lora/loraTensors';

/**
 * The Tucker (CP) forms of LoHa (hada_t1/hada_t2) and LoKr (lokr_t2), against A1111's formulas
 * written out here in fp64: make_weight_cp(t, wa, wb)[o, c, k, l] = Σ_i Σ_j wa[i, o] · t[i, j, k, l] · wb[j, c]
 * (lyco_helpers.py), the LoHa halves multiplied elementwise (network_hada.py), the LoKr kron of w1 with
 * that w2 keeping w2's kernel (network_lokr.py make_kron), and alpha over the rank of w1b (LoHa) or w2b (LoKr).
 */
function tensor(dims: number[], seed: number): LoraTensor {
  let state = seed;
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return Math.fround((state / 2147483648) * 2 - 1);
  });
  return { dims, data };
}

function module(kind: LoraModuleKind, tensors: Partial<Record<TensorRole, LoraTensor>>): LoraModule<LoraTensor> {
  return { component: 'unet', module: 'down_blocks.0.resnets.0.conv1', kind, tensors, sourceKeys: [] };
}

/** make_weight_cp as a function of (o, c, s): wa [r1, out], t [r1, r2, kernel], wb [r2, in]. */
function cp(t: LoraTensor, wa: LoraTensor, wb: LoraTensor): (o: number, c: number, s: number) => number {
  const [r1, r2, kh, kw] = t.dims;
  const [out, inputs, kernel] = [wa.dims[1], wb.dims[1], kh * kw];
  return (o, c, s) => {
    assert.ok(o < out && c < inputs && s < kernel);
    let sum = 0;
    for (let i = 0; i < r1; i++) for (let j = 0; j < r2; j++) sum += wa.data[i * out + o] * t.data[(i * r2 + j) * kernel + s] * wb.data[j * inputs + c];
    return sum;
  };
}

function assertClose(actual: Float32Array | { error: string }, expected: number[]): void {
  assert.ok(actual instanceof Float32Array, 'error' in actual ? actual.error : '');
  assert.strictEqual(actual.length, expected.length);
  expected.forEach((e, k) => assert.ok(Math.abs(actual[k] - e) <= 1e-6 * Math.max(1, Math.abs(e)), `element ${k}: ${actual[k]} against ${e}`));
}

describe('LoRA math: Tucker forms of LoHa and LoKr', () => {
  it('LoHa with hada_t1/hada_t2: cp(t1, w1a, w1b) ⊙ cp(t2, w2a, w2b) · alpha / rank(w1b) · multiplier, onto a 3×3 conv', () => {
    // out 3, in 4, a 3×3 kernel; ranks 3 × 2 (first half: w1a's differs from w1b's, which A1111 divides by) and 3 × 3.
    const w1a = tensor([3, 3], 1);
    const t1 = tensor([3, 2, 3, 3], 2);
    const w1b = tensor([2, 4], 3);
    const w2a = tensor([3, 3], 4);
    const t2 = tensor([3, 3, 3, 3], 5);
    const w2b = tensor([3, 4], 6);
    const first = cp(t1, w1a, w1b);
    const second = cp(t2, w2a, w2b);
    const expected: number[] = [];
    // alpha 4 over w1b's rank 2: scale 2; multiplier 0.5.
    for (let o = 0; o < 3; o++) for (let c = 0; c < 4; c++) for (let s = 0; s < 9; s++) expected.push(first(o, c, s) * second(o, c, s) * 2 * 0.5);
    const loha = module('loha', { w1a, w1b, w2a, w2b, t1, t2, alpha: { dims: [], data: Float32Array.of(4) } });
    assertClose(deltaWeight(loha, 0.5, [3, 4, 3, 3]), expected);
    // One value by hand-checkable sum, so the formula above is not the code's own: element (0, 0, 0).
    let direct1 = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) direct1 += w1a.data[i * 3] * t1.data[(i * 2 + j) * 9] * w1b.data[j * 4];
    assert.ok(Math.abs(first(0, 0, 0) - direct1) < 1e-12);
  });

  it('LoKr with lokr_t2: kron(w1, cp(t2, w2a, w2b)) keeping the kernel · alpha / rank(w2b) · multiplier', () => {
    const w1 = tensor([2, 1], 7);
    const t2 = tensor([2, 3, 3, 3], 8);
    const w2a = tensor([2, 3], 9);
    const w2b = tensor([3, 4], 10);
    const w2 = cp(t2, w2a, w2b); // [3, 4, 3, 3]
    const expected: number[] = [];
    // [2·3, 1·4, 3, 3]; alpha 1.5 over w2b's rank 3: scale 0.5; multiplier 1.2.
    for (let o = 0; o < 6; o++) for (let c = 0; c < 4; c++) for (let s = 0; s < 9; s++) expected.push(w1.data[Math.floor(o / 3)] * w2(o % 3, c, s) * 0.5 * 1.2);
    const lokr = module('lokr', { w1, w2a, w2b, t2, alpha: { dims: [], data: Float32Array.of(1.5) } });
    assertClose(deltaWeight(lokr, 1.2, [6, 4, 3, 3]), expected);
  });
});
