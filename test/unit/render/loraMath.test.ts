import * as assert from 'assert';
import { LoraModule, LoraModuleKind, TensorRole } from '../../../server/src/render/lora/loraKeys';
import { deltaBias, deltaWeight, moduleScale } from '../../../server/src/render/lora/loraMath';
import { LoraTensor, decodeTensorData, readLoraTensors } from '../../../server/src/render/lora/loraTensors';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';

/** Deterministic small values with both signs, so products are not trivially symmetric. */
function values(count: number, seed: number): number[] {
  const out: number[] = [];
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out.push(Math.fround((state / 2147483648) * 2 - 1));
  }
  return out;
}

function tensor(dims: number[], seed: number): LoraTensor {
  return { dims, data: Float32Array.from(values(dims.reduce((a, b) => a * b, 1), seed)) };
}

function scalarTensor(value: number): LoraTensor {
  return { dims: [], data: Float32Array.of(value) };
}

function module(kind: LoraModuleKind, tensors: Partial<Record<TensorRole, LoraTensor>>, name = 'down_blocks.0.attentions.0.proj_in'): LoraModule<LoraTensor> {
  return { component: 'unet', module: name, kind, tensors, sourceKeys: [] };
}

/** Element (i, j) of a row-major [rows, cols] tensor viewed as a matrix. */
function at(t: LoraTensor, i: number, j: number): number {
  const cols = t.data.length / t.dims[0];
  return t.data[i * cols + j];
}

function assertClose(actual: Float32Array | { error: string }, expected: number[], tolerance = 1e-6): void {
  assert.ok(actual instanceof Float32Array, 'error' in actual ? actual.error : '');
  assert.strictEqual(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('LoRA delta math', () => {
  it('LoRA: up @ down × alpha/rank × multiplier, onto a Linear', () => {
    const up = tensor([5, 3], 1);
    const down = tensor([3, 4], 2);
    const m = module('lora', { up, down, alpha: scalarTensor(1.5) });
    assert.strictEqual(moduleScale(m), 0.5);
    const expected: number[] = [];
    for (let o = 0; o < 5; o++)
      for (let i = 0; i < 4; i++) {
        let sum = 0;
        for (let r = 0; r < 3; r++) sum += at(up, o, r) * at(down, r, i);
        expected.push(sum * 0.5 * 0.7);
      }
    assertClose(deltaWeight(m, 0.7, [5, 4]), expected);
    // Without alpha the scale is 1 (PEFT files).
    assertClose(
      deltaWeight(module('lora', { up, down }), 1, [5, 4]),
      expected.map((v) => v / 0.35),
      1e-5,
    );
    // A 1×1-conv LoRA ([r, in, 1, 1]) onto a Linear, and a Linear LoRA onto a 1×1 conv: same numbers.
    const conv1x1 = module('lora', { up: { dims: [5, 3, 1, 1], data: up.data }, down: { dims: [3, 4, 1, 1], data: down.data }, alpha: scalarTensor(1.5) });
    assertClose(deltaWeight(conv1x1, 0.7, [5, 4]), expected);
    assertClose(deltaWeight(m, 0.7, [5, 4, 1, 1]), expected);
  });

  it('dyn uses only the first ranks', () => {
    const up = tensor([2, 3], 3);
    const down = tensor([3, 2], 4);
    const expected: number[] = [];
    for (let o = 0; o < 2; o++) for (let i = 0; i < 2; i++) expected.push(at(up, o, 0) * at(down, 0, i));
    assertClose(deltaWeight(module('lora', { up, down }), 1, [2, 2], { dyn: 1 }), expected);
  });

  it('LoCon: a 3×3 conv, down carrying the kernel and up 1×1', () => {
    const down = tensor([2, 3, 3, 3], 5);
    const up = tensor([4, 2, 1, 1], 6);
    const expected: number[] = [];
    for (let o = 0; o < 4; o++)
      for (let i = 0; i < 3; i++)
        for (let s = 0; s < 9; s++) {
          let sum = 0;
          for (let r = 0; r < 2; r++) sum += up.data[o * 2 + r] * down.data[(r * 3 + i) * 9 + s];
          expected.push(sum * (1 / 2));
        }
    assertClose(deltaWeight(module('lora', { up, down, alpha: scalarTensor(1) }), 1, [4, 3, 3, 3]), expected);
  });

  it('LoCon with a Tucker lora_mid', () => {
    const up = tensor([4, 2, 1, 1], 7);
    const mid = tensor([2, 2, 3, 3], 8);
    const down = tensor([2, 3, 1, 1], 9);
    const expected: number[] = [];
    for (let o = 0; o < 4; o++)
      for (let i = 0; i < 3; i++)
        for (let s = 0; s < 9; s++) {
          let sum = 0;
          for (let n = 0; n < 2; n++) for (let m = 0; m < 2; m++) sum += up.data[o * 2 + n] * mid.data[(n * 2 + m) * 9 + s] * down.data[m * 3 + i];
          expected.push(sum * 0.9);
        }
    assertClose(deltaWeight(module('lora', { up, mid, down }), 0.9, [4, 3, 3, 3]), expected);
  });

  it('LoHa: (w1a @ w1b) ⊙ (w2a @ w2b)', () => {
    const w1a = tensor([4, 2], 10);
    const w1b = tensor([2, 3], 11);
    const w2a = tensor([4, 2], 12);
    const w2b = tensor([2, 3], 13);
    const expected: number[] = [];
    for (let o = 0; o < 4; o++)
      for (let i = 0; i < 3; i++) {
        let a = 0;
        let b = 0;
        for (let r = 0; r < 2; r++) {
          a += at(w1a, o, r) * at(w1b, r, i);
          b += at(w2a, o, r) * at(w2b, r, i);
        }
        expected.push(a * b * (4 / 2) * 0.5);
      }
    assertClose(deltaWeight(module('loha', { w1a, w1b, w2a, w2b, alpha: scalarTensor(4) }), 0.5, [4, 3]), expected);
  });

  it('LoKr: kron(w1a @ w1b, w2a @ w2b), and kron with a full w1 and a 4-D w2', () => {
    const w1a = tensor([2, 1], 14);
    const w1b = tensor([1, 3], 15);
    const w2a = tensor([3, 2], 16);
    const w2b = tensor([2, 2], 17);
    const w1 = (i: number, j: number) => at(w1a, i, 0) * at(w1b, 0, j);
    const w2 = (i: number, j: number) => at(w2a, i, 0) * at(w2b, 0, j) + at(w2a, i, 1) * at(w2b, 1, j);
    const expected: number[] = [];
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) expected.push(w1(Math.floor(r / 3), Math.floor(c / 2)) * w2(r % 3, c % 2) * (1 / 2) * 1.25);
    assertClose(deltaWeight(module('lokr', { w1a, w1b, w2a, w2b, alpha: scalarTensor(1) }), 1.25, [6, 6]), expected);

    const full1 = tensor([2, 2], 18);
    const conv2 = tensor([3, 2, 3, 3], 19);
    const expectedConv: number[] = [];
    for (let o = 0; o < 6; o++)
      for (let i = 0; i < 4; i++)
        for (let s = 0; s < 9; s++) {
          const a = at(full1, Math.floor(o / 3), Math.floor(i / 2));
          expectedConv.push(a * conv2.data[((o % 3) * 2 + (i % 2)) * 9 + s]);
        }
    // No w1b/w2b: no rank, so alpha is ignored (scale 1), as in network_lokr.py.
    assertClose(deltaWeight(module('lokr', { w1: full1, w2: conv2, alpha: scalarTensor(7) }), 1, [6, 4, 3, 3]), expectedConv);
  });

  it('full diff (alpha ignored) and diff_b', () => {
    const diff = tensor([3, 2], 20);
    const diffBias = tensor([3], 21);
    const m = module('full', { diff, diffBias, alpha: scalarTensor(8) });
    assertClose(deltaWeight(m, 0.5, [3, 2]), [...diff.data].map((v) => v * 0.5));
    // The file's tensor is not altered by the scaling.
    assert.deepStrictEqual([...diff.data], values(6, 20));
    assertClose(deltaBias(m, 0.5, 3) as Float32Array, [...diffBias.data].map((v) => v * 0.5));
    assert.strictEqual(deltaBias(module('lora', {}), 1, 3), undefined);
  });

  it('DoRA: per-input norm (dora_scale [1, in]) and per-output norm (a vector of out)', () => {
    const up = tensor([3, 2], 22);
    const down = tensor([2, 4], 23);
    const base = Float32Array.from(values(12, 24));
    const scale = 2 / 2;
    const lora: number[] = [];
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 4; i++) {
        let sum = 0;
        for (let r = 0; r < 2; r++) sum += at(up, o, r) * at(down, r, i);
        lora.push(sum * scale);
      }
    const merged = lora.map((v, k) => v + base[k]);
    const multiplier = 0.6;

    const perInput = tensor([1, 4], 25);
    const columnNorm = [0, 1, 2, 3].map((i) => Math.sqrt([0, 1, 2].reduce((s, o) => s + merged[o * 4 + i] ** 2, 0)));
    const expectedIn = merged.map((v, k) => multiplier * (v * (perInput.data[k % 4] / columnNorm[k % 4]) - base[k]));
    assertClose(deltaWeight(module('lora', { up, down, alpha: scalarTensor(2), doraScale: perInput }), multiplier, [3, 4], { baseWeight: base }), expectedIn);

    const perOutput = tensor([3], 26);
    const rowNorm = [0, 1, 2].map((o) => Math.sqrt([0, 1, 2, 3].reduce((s, i) => s + merged[o * 4 + i] ** 2, 0)));
    const expectedOut = merged.map((v, k) => multiplier * (v * (perOutput.data[Math.floor(k / 4)] / rowNorm[Math.floor(k / 4)]) - base[k]));
    assertClose(deltaWeight(module('lora', { up, down, alpha: scalarTensor(2), doraScale: perOutput }), multiplier, [3, 4], { baseWeight: base }), expectedOut);

    const missing = deltaWeight(module('lora', { up, down, doraScale: perOutput }), 1, [3, 4]);
    assert.ok(!(missing instanceof Float32Array));
    assert.match(missing.error, /base weight/);
  });

  it('a shape mismatch names the module and both shapes', () => {
    const result = deltaWeight(module('lora', { up: tensor([5, 3], 1), down: tensor([3, 4], 2) }, 'mid_block.attentions.0.proj_out'), 1, [5, 8]);
    assert.ok(!(result instanceof Float32Array));
    assert.strictEqual(result.error, "unet:mid_block.attentions.0.proj_out: the lora module gives [5, 4] but the model's weight is [5, 8]");
    const kernel = deltaWeight(module('lora', { up: tensor([4, 2, 1, 1], 1), down: tensor([2, 3, 3, 3], 2) }), 1, [4, 27, 1, 1]);
    assert.ok(!(kernel instanceof Float32Array));
    assert.match(kernel.error, /\[4, 3, 3, 3\].*\[4, 27, 1, 1\]/);
  });
});

describe('LoRA tensor reading', () => {
  /** A safetensors file from raw tensor bytes, with a header length that leaves the data unaligned. */
  function file(tensors: Array<{ name: string; dtype: string; shape: number[]; bytes: Uint8Array }>): Uint8Array {
    const header: Record<string, unknown> = { __metadata__: { ss_network_dim: '4' } };
    let offset = 0;
    for (const t of tensors) {
      header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
      offset += t.bytes.length;
    }
    const json = Buffer.from(JSON.stringify(header) + ' ', 'utf8');
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let at = 8 + json.length;
    for (const t of tensors) {
      out.set(t.bytes, at);
      at += t.bytes.length;
    }
    return out;
  }

  const u16 = (words: number[]) => new Uint8Array(Uint16Array.from(words).buffer);

  it('decodes F16 and BF16 exactly, F32 as stored', async () => {
    // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 0.333251953125, -0, +inf.
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000, 0x7c00];
    const f16Values = [1, -2, 65504, 2 ** -24, 0.333251953125, -0, Infinity];
    // BF16: 1, -2, 3.140625, 1e-38-ish subnormal 0x0001 = 2^-133, max 0x7f7f.
    const bf16 = [0x3f80, 0xc000, 0x4049, 0x0001, 0x7f7f];
    const bf16Values = [1, -2, 3.140625, 2 ** -133, (2 - 2 ** -7) * 2 ** 127];
    const f32 = Float32Array.of(0.1, -7.25, 3e-39);
    const fs = new MemoryFileSystem();
    fs.writeFile(
      '/loras/t.safetensors',
      file([
        { name: 'a.F16', dtype: 'F16', shape: [7], bytes: u16(f16) },
        { name: 'b.BF16', dtype: 'BF16', shape: [5, 1], bytes: u16(bf16) },
        { name: 'c.F32', dtype: 'F32', shape: [3], bytes: new Uint8Array(f32.buffer) },
        { name: 'd.I64', dtype: 'I64', shape: [1], bytes: new Uint8Array(8) },
      ]),
    );
    const read = await readLoraTensors(fs, '/loras/t.safetensors');
    assert.ok(!('error' in read));
    assert.deepStrictEqual([...(read.tensors.get('a.F16')?.data ?? [])], f16Values);
    assert.ok(Object.is(read.tensors.get('a.F16')?.data[5], -0));
    assert.deepStrictEqual([...(read.tensors.get('b.BF16')?.data ?? [])], bf16Values);
    assert.deepStrictEqual(read.tensors.get('b.BF16')?.dims, [5, 1]);
    assert.deepStrictEqual([...(read.tensors.get('c.F32')?.data ?? [])], [...f32]);
    assert.deepStrictEqual(read.skipped, [{ name: 'd.I64', reason: 'dtype I64 is not a float type (F32, F16, BF16, F64)' }]);
    assert.strictEqual(read.metadata['ss_network_dim'], '4');
    assert.ok(Number.isNaN((decodeTensorData('F16', u16([0x7e00]), 1) as Float32Array)[0]));

    const some = await readLoraTensors(fs, '/loras/t.safetensors', { names: new Set(['c.F32']) });
    assert.ok(!('error' in some));
    assert.deepStrictEqual([...some.tensors.keys()], ['c.F32']);
  });

  it('refuses a truncated file and a header whose offsets do not fit', async () => {
    const fs = new MemoryFileSystem();
    const whole = file([{ name: 'a', dtype: 'F32', shape: [4], bytes: new Uint8Array(16) }]);
    fs.writeFile('/t/cut.safetensors', whole.subarray(0, whole.length - 4));
    const cut = await readLoraTensors(fs, '/t/cut.safetensors');
    assert.ok('error' in cut);
    assert.match(cut.error, /beyond the data section/);
  });
});
