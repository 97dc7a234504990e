/**
 * The merge's working memory: the buffers that base weights are read into and merged in, all inside
 * one WebAssembly memory, so that `addScaled` (`w += f·Δ`, four floats at a time with WebAssembly
 * SIMD) runs on them in place. Why not onnxruntime for the add: onnxruntime-node copies every output
 * into a freshly allocated ArrayBuffer, even a pre-allocated one, and that copy (page faults
 * included) cost more than the arithmetic: an in-place Gemm on a 1280×5120 weight took 14.5 ms, a
 * plain copy of it 2.3 ms, and this add 5.7 ms (docs/rendering.md). A plain JS loop took 16 ms.
 */
export class MergeScratch {
  private readonly memory: WasmMemory;
  private readonly axpy?: (dst: number, a: number, b: number, end: number, factor: number) => void;
  /** Bytes of each region and how many, as last reserved. */
  private regionBytes = 0;
  private regions = 0;

  constructor() {
    this.memory = new wasm.Memory({ initial: 0, maximum: MAX_PAGES });
    if (wasm.validate(AXPY_MODULE)) {
      const instance = new wasm.Instance(new wasm.Module(AXPY_MODULE), { m: { mem: this.memory } });
      this.axpy = instance.exports.axpy as typeof this.axpy;
    }
    // Without SIMD (no runtime of ours lacks it) addScaled falls back to a JS loop: slower, same result.
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
 * A WebAssembly module importing memory `m.mem` and exporting
 * `axpy(dst, a, b, end, f)`: for byte offsets p = a, a+16, … < end, `dst[·] = a[·] + f·b[·]` on f32x4
 * (dst and b advance with a). Written out by hand: the project has no WebAssembly toolchain.
 */
const AXPY_MODULE = (() => {
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
  const advance = (i: number) => [...get(i), 0x41, 16, 0x6a, ...set(i)]; // local += 16
  const v128Load = [0xfd, 0x00, 4, 0]; // align 2^4, offset 0
  const v128Store = [0xfd, 0x0b, 4, 0];
  const body = [
    1, 1, V128, // one local: the splatted factor (local 5)
    ...get(4), 0xfd, 0x13, ...set(5), // f32x4.splat
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(1), ...get(3), 0x4f, 0x0d, 1, // if a >= end: leave the block
    ...get(0),
    ...get(1), ...v128Load,
    ...get(2), ...v128Load, ...get(5), 0xfd, 0xe6, 0x01, // f32x4.mul
    0xfd, 0xe4, 0x01, // f32x4.add
    ...v128Store,
    ...advance(0), ...advance(1), ...advance(2),
    0x0c, 0, // continue the loop
    0x0b, 0x0b, 0x0b, // end loop, end block, end function
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, F32, 0]), // type: (i32 ×4, f32) → ()
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x01, 0, ...leb(MAX_PAGES)]), // import memory (min 0, max)
    ...section(3, [1, 0]), // one function of type 0
    ...section(7, [1, ...name('axpy'), 0x00, 0]), // export it
    ...section(10, [1, ...leb(body.length), ...body]),
  ]);
})();
