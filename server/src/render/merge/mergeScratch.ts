import { floatToHalf, halfToFloat } from '../onnx/half';

/**
 * The merge's working memory: the buffers that base weights are read into and merged in, all inside
 * one WebAssembly memory, so that `addScaled` (`w += f·Δ`, four floats at a time with WebAssembly
 * SIMD) and `addToHalf` (an fp16 weight's fp32 sum rounded onto it) run on them in place. Why not
 * onnxruntime: onnxruntime-node copies every output into a freshly allocated ArrayBuffer, even a
 * pre-allocated one, and that copy (page faults included) cost more than the arithmetic: an in-place
 * Gemm on a 1280×5120 weight took 14.5 ms, a plain copy of it 2.3 ms, and this add 5.7 ms
 * (docs/rendering.md). A plain JS loop took 16 ms.
 */
export class MergeScratch {
  private readonly memory: WasmMemory;
  private readonly axpy?: (dst: number, a: number, b: number, end: number, factor: number) => void;
  private readonly addHalves?: (halves: number, sums: number, end: number, unused: number) => void;
  private readonly addScaledHalves?: (halves: number, delta: number, end: number, factor: number) => void;
  /** Bytes of each region and how many, as last reserved. */
  private regionBytes = 0;
  private regions = 0;

  constructor() {
    this.memory = new wasm.Memory({ initial: 0, maximum: MAX_PAGES });
    if (wasm.validate(MERGE_MODULE)) {
      const instance = new wasm.Instance(new wasm.Module(MERGE_MODULE), { m: { mem: this.memory } });
      this.axpy = instance.exports.axpy as typeof this.axpy;
      this.addHalves = instance.exports.addToHalf as typeof this.addHalves;
      this.addScaledHalves = instance.exports.addScaledToHalf as typeof this.addScaledHalves;
    }
    // Without SIMD (no runtime of ours lacks it) both fall back to JS loops: slower, same results.
  }

  /**
   * `count` regions of at least `bytes` each (and after them the bytes addScaled stages deltas in).
   * Views made before are invalid afterwards if the memory had to grow: call it before any I/O into them.
   */
  reserve(bytes: number, count: number): Uint8Array[] {
    const regionBytes = Math.ceil(bytes / ALIGN) * ALIGN;
    const total = regionBytes * count + STAGE_BYTES;
    const pages = Math.ceil(total / PAGE);
    if (pages > MAX_PAGES) throw new Error(`a weight of ${bytes} bytes does not fit the merge's 4 GiB working memory`);
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    this.regionBytes = regionBytes;
    this.regions = count;
    return Array.from({ length: count }, (_, i) => new Uint8Array(this.memory.buffer, i * regionBytes, regionBytes));
  }

  /** A float32 view of the first `length` floats of `region` (from reserve). */
  floats(region: Uint8Array, length: number): Float32Array {
    return new Float32Array(region.buffer, region.byteOffset, length);
  }

  /**
   * `target[i] += factor · delta[i]` in fp32 (factor, product and sum each rounded to fp32); `target` is a
   * view from `floats` (or any Float32Array, added in JS), `delta` any Float32Array of its length.
   * The delta lies outside the WebAssembly memory, so it is copied in a cache-sized piece at a time,
   * each added before the next is copied: the copy then never goes out to main memory and back. A
   * 1280×5120 weight took 8.7-9.3 ms so, against 11.6-13.8 ms with the whole delta copied first.
   */
  addScaled(target: Float32Array, delta: Float32Array, factor: number): void {
    if (delta.length !== target.length) throw new Error(`a delta of ${delta.length} values for a weight of ${target.length}`);
    const vectorised = this.axpy && target.buffer === this.memory.buffer ? target.length & ~3 : 0;
    if (vectorised) {
      const staging = this.regions * this.regionBytes;
      const stage = new Float32Array(this.memory.buffer, staging, STAGE_BYTES / 4);
      for (let at = 0; at < vectorised; at += stage.length) {
        const end = Math.min(vectorised, at + stage.length);
        stage.set(delta.subarray(at, end));
        this.axpy!(target.byteOffset + at * 4, target.byteOffset + at * 4, staging, target.byteOffset + end * 4, factor);
      }
    }
    // As the SIMD code rounds: the factor to fp32, the product, then the sum.
    const f = Math.fround(factor);
    for (let i = vectorised; i < target.length; i++) target[i] += Math.fround(f * delta[i]);
  }

  /**
   * `halves[i] = fp16(fp32(halves[i]) + sums[i])`, rounded to nearest even: an fp16 weight's block (the
   * bits, as read) gets the fp32 sum of its deltas, rounded once. Both views of one length, from
   * regions of this memory (else, or past the last multiple of eight, it runs in JS with half.ts's
   * conversions, which give the same bits). On the shared 2-core dev machine, a 2 MiB block (1 M halves)
   * with one term took 1.50-1.59 ms so (zeroing the sum and adding the term included), where onnxruntime's
   * `Cast(Cast(base) + Σ)` in its place took 1.6-19 ms in the same run: its threads wait on the machine's
   * other work, and its output is copied back.
   */
  addToHalf(halves: Uint16Array, sums: Float32Array): void {
    if (sums.length !== halves.length) throw new Error(`a sum of ${sums.length} values for a weight of ${halves.length}`);
    const inMemory = halves.buffer === this.memory.buffer && sums.buffer === this.memory.buffer;
    const vectorised = this.addHalves && inMemory ? halves.length & ~7 : 0;
    if (vectorised) this.addHalves!(halves.byteOffset, sums.byteOffset, halves.byteOffset + vectorised * 2, 0);
    // fp32(half) + sum, computed in double and rounded once to fp32, is the fp32 sum (double has more than 2·24 + 2 bits).
    for (let i = vectorised; i < halves.length; i++) halves[i] = floatToHalf(Math.fround(halfToFloat(halves[i]) + sums[i]));
  }

  /**
   * An fp16 weight's block with one term: `halves[i] = fp16(fp32(halves[i]) + (0 + f·delta[i]))`, the same
   * bits as addScaled onto a zeroed sum and then addToHalf, in one pass: the sum never goes through memory.
   * `delta` (any Float32Array of the halves' length) is copied in a cache-sized piece at a time, as in addScaled.
   * 1.32-1.39 ms for 1 M halves in the run above; an fp32 weight of as many values takes 0.21-0.25 ms to add,
   * so the conversions are most of it.
   */
  addScaledToHalf(halves: Uint16Array, delta: Float32Array, factor: number): void {
    if (delta.length !== halves.length) throw new Error(`a delta of ${delta.length} values for a weight of ${halves.length}`);
    const vectorised = this.addScaledHalves && halves.buffer === this.memory.buffer ? halves.length & ~7 : 0;
    if (vectorised) {
      const staging = this.regions * this.regionBytes;
      const stage = new Float32Array(this.memory.buffer, staging, STAGE_BYTES / 4);
      for (let at = 0; at < vectorised; at += stage.length) {
        const end = Math.min(vectorised, at + stage.length);
        stage.set(delta.subarray(at, end));
        this.addScaledHalves!(halves.byteOffset + at * 2, staging, halves.byteOffset + end * 2, factor);
      }
    }
    const f = Math.fround(factor);
    for (let i = vectorised; i < halves.length; i++) halves[i] = floatToHalf(Math.fround(halfToFloat(halves[i]) + (Math.fround(f * delta[i]) + 0)));
  }
}

/** The part of the WebAssembly API used here (the server's TypeScript libs leave it out with the DOM). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasm = (globalThis as unknown as {
  WebAssembly: {
    Memory: new (limits: { initial: number; maximum: number }) => WasmMemory;
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
    validate(bytes: Uint8Array): boolean;
  };
}).WebAssembly;

const PAGE = 65536;
/** memory32's limit: 4 GiB. */
const MAX_PAGES = 65536;
const ALIGN = 64;
/** How much of a delta addScaled copies in at a time: well inside a core's L2 cache. */
const STAGE_BYTES = 64 * 1024;

/**
 * A WebAssembly module importing memory `m.mem` and exporting three functions on byte offsets (written
 * out by hand: the project has no WebAssembly toolchain):
 * - `axpy(dst, a, b, end, f)`: for p = a, a+16, … < end, `dst[·] = a[·] + f·b[·]` on f32x4 (dst and b
 *   advance with a);
 * - `addToHalf(h, s, end, _)`: for p = h, h+16, … < end, the eight halves at p become
 *   `fp16(fp32(half) + sum)` with the eight floats at s (s advances 32 bytes a step);
 * - `addScaledToHalf(h, d, end, f)`: the same with `0 + f·d[·]` for the sum.
 * WebAssembly has no half-precision instructions, so the conversions are SIMD on the bits, every case
 * computed and the right one selected per lane (M. Maratyszcza's FP16 library's conversions, as XNNPACK
 * uses them), and the rounding is done by the hardware's fp32 arithmetic, which rounds to nearest even:
 * - fp16 → fp32 is exact: a normal (or Inf/NaN) half's bits moved into place with the exponent off by
 *   2^112, then multiplied by 2^-112; a subnormal's mantissa set under 0.5's exponent (0.5 + m·2^-24), minus 0.5.
 * - fp32 → fp16: 4|x| (Inf where fp16 overflows) is added to a power of two whose ulp is the half's ulp at
 *   x's exponent, 2^-24 at least, so the addition rounds the mantissa to ten bits, to nearest even,
 *   subnormals and the carry into the exponent included; the sum's bits hold the half's exponent and
 *   mantissa. NaN becomes the quiet NaN 0x7e00, and the sign (of zeros too) is kept.
 * Checked against a by-definition reference bit for bit on all 2^16 halves, every tie between two halves
 * and a million random floats, and against onnxruntime's Cast (test/unit/render/mergeScratch.test.ts).
 */
const MERGE_MODULE = (() => {
  const leb = (n: number) => {
    const out: number[] = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    return out;
  };
  const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
  const name = (s: string) => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
  const [I32, F32, V128] = [0x7f, 0x7d, 0x7b];
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const tee = (i: number) => [0x22, i];
  const i32 = (n: number) => [0x41, n]; // i32.const for 0 ≤ n < 64 (one signed LEB byte)
  const advance = (i: number, by: number) => [...get(i), 0x41, ...leb(by), 0x6a, ...set(i)]; // local += by (by < 64)
  const simd = (op: number) => [0xfd, ...leb(op)];
  const load = (offset = 0) => [...simd(0x00), 4, offset]; // v128.load, align 2^4
  const store = [...simd(0x0b), 4, 0];
  /** v128.const with four equal i32 lanes. */
  const splat = (n: number) => [...simd(0x0c), ...Array.from({ length: 16 }, (_, i) => (n >>> ((i % 4) * 8)) & 0xff)];
  const [AND, OR, XOR, BITSELECT] = [0x4e, 0x50, 0x51, 0x52].map(simd);
  const LT_S = simd(0x39); // i32x4, signed (both operands ≥ 0 where used)
  const F_NE = simd(0x42); // f32x4
  const [SHL, SHR_U, ADD, MAX_U] = [0xab, 0xad, 0xae, 0xb9].map(simd); // i32x4
  const [F_ABS, F_ADD, F_SUB, F_MUL] = [0xe0, 0xe4, 0xe5, 0xe6].map(simd); // f32x4
  const [EXTEND_LOW_U, EXTEND_HIGH_U, NARROW_U] = [0xa9, 0xaa, 0x86].map(simd); // u16 ⇄ i32 lanes

  const axpy = [
    1, 1, V128, // one local: the splatted factor (local 5)
    ...get(4), ...simd(0x13), ...set(5), // f32x4.splat
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(1), ...get(3), 0x4f, 0x0d, 1, // if a >= end: leave the block
    ...get(0),
    ...get(1), ...load(),
    ...get(2), ...load(), ...get(5), ...F_MUL,
    ...F_ADD,
    ...store,
    ...advance(0, 16), ...advance(1, 16), ...advance(2, 16),
    0x0c, 0, // continue the loop
    0x0b, 0x0b, 0x0b, // end loop, end block, end function
  ];

  // The fp16 functions' params are h 0, b 1, end 2, f 3 (addToHalf has no use for f); their locals v128s.
  const [HALVES, X, E, O, A, LOW, FACTOR] = [4, 5, 6, 7, 8, 9, 10];
  /** A splatted constant, held in a local set before the loop (V8 would otherwise make each again every step). */
  const constants = new Map<number, number>();
  const k = (n: number) => {
    if (!constants.has(n)) constants.set(n, 11 + constants.size);
    return get(constants.get(n)!);
  };
  /** fp32 bits of the halves in X's i32 lanes, onto the stack. */
  const decode = [
    ...get(X), ...k(0x7fff), ...AND, ...set(A), // exponent and mantissa
    // Subnormal: the mantissa under 0.5's exponent is 0.5 + m·2^-24; minus 0.5 (exact).
    ...get(A), ...k(0x3f000000), ...OR, ...k(0x3f000000), ...F_SUB,
    // Otherwise: exponent rebiased by 224 (Inf/NaN land on 255), times 2^-112 (exact; Inf and NaN stay).
    ...get(A), ...i32(13), ...SHL, ...tee(E), ...k(0x70000000), ...ADD, ...k(0x07800000), ...F_MUL,
    ...get(E), ...k(0x00800000), ...LT_S, ...BITSELECT, // exponent 0: the subnormal
    ...get(X), ...get(A), ...XOR, ...i32(16), ...SHL, ...OR, // the sign
  ];
  /** fp16 bits of the floats in X, rounded to nearest even, onto the stack in i32 lanes. */
  const encode = [
    // |x|·2^112·2^-110: 4|x|, or Inf where fp16 overflows (the first product overflows fp32 from 2^16).
    ...get(X), ...F_ABS, ...k(0x77800000), ...F_MUL, ...k(0x08800000), ...F_MUL,
    // Added to a power of two whose ulp is the half's ulp at x's exponent (at least 2^-24), 4|x| is rounded to
    // nearest even by the float addition itself; the sum's bits then hold the half's exponent and mantissa.
    ...get(X), ...get(X), ...ADD, ...k(0xff000000), ...AND, ...k(0x71000000), ...MAX_U, ...i32(1), ...SHR_U, ...k(0x07800000), ...ADD,
    ...F_ADD, ...set(O),
    ...k(0x7e00), // NaN
    ...get(O), ...i32(13), ...SHR_U, ...k(0x7c00), ...AND, ...get(O), ...k(0x0fff), ...AND, ...ADD,
    ...get(X), ...get(X), ...F_NE, ...BITSELECT,
    ...get(X), ...k(0x80000000), ...AND, ...i32(16), ...SHR_U, ...OR, // the sign
  ];
  /**
   * For h (param 0) < end (param 2), eight halves a step: each becomes fp16(fp32(half) + term), where
   * `term(offset)` pushes four floats from byte `offset` of b's step (b, param 1, advances 32 bytes a step).
   */
  const halfLoop = (term: (offset: number) => number[]) => {
    const addFour = (offset: number) => [...decode, ...term(offset), ...F_ADD, ...set(X), ...encode];
    const loop = [
      0x02, 0x40, 0x03, 0x40, // block, loop
      ...get(0), ...get(2), 0x4f, 0x0d, 1, // if h >= end: leave the block
      ...get(0), ...load(), ...set(HALVES),
      ...get(HALVES), ...EXTEND_LOW_U, ...set(X), ...addFour(0), ...set(LOW),
      ...get(HALVES), ...EXTEND_HIGH_U, ...set(X), ...addFour(16), ...set(X),
      ...get(0), ...get(LOW), ...get(X), ...NARROW_U, ...store,
      ...advance(0, 16), ...advance(1, 32),
      0x0c, 0,
      0x0b, 0x0b, 0x0b,
    ];
    return [
      1, 7 + constants.size, V128,
      ...get(3), ...simd(0x13), ...set(FACTOR), // f32x4.splat
      ...[...constants].flatMap(([n, local]) => [...splat(n), ...set(local)]),
      ...loop,
    ];
  };
  // The sum's floats as they are.
  const addToHalf = halfLoop((offset) => [...get(1), ...load(offset)]);
  // f·Δ, then +0 as a sum of one term starts from 0 (so −0 becomes +0, as in addScaled onto a zeroed sum).
  const addScaledToHalf = halfLoop((offset) => [...get(1), ...load(offset), ...get(FACTOR), ...F_MUL, ...k(0), ...F_ADD]);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [2, 0x60, 5, I32, I32, I32, I32, F32, 0, 0x60, 4, I32, I32, I32, F32, 0]), // types: (i32 ×4, f32) → (), (i32 ×3, f32) → ()
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x01, 0, ...leb(MAX_PAGES)]), // import memory (min 0, max)
    ...section(3, [3, 0, 1, 1]), // three functions
    ...section(7, [3, ...name('axpy'), 0x00, 0, ...name('addToHalf'), 0x00, 1, ...name('addScaledToHalf'), 0x00, 2]),
    ...section(10, [3, ...[axpy, addToHalf, addScaledToHalf].flatMap((body) => [...leb(body.length), ...body])]),
  ]);
})();
