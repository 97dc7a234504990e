/**
 * Philox 4x32-10's first two output words for counters [offset, 0, i, 0], i = 0 … n−1, under the key
 * [k0, k1] (what rng_philox.py's `philox4_32` computes before its Box–Muller). In WebAssembly, whose
 * 64-bit multiply gives each round's high words in one instruction; in JavaScript, from 16-bit
 * partial products, where WebAssembly is unavailable. Returns [c0, c1] per element, interleaved, in
 * a buffer that the next call overwrites.
 */
export function philoxWords(n: number, offset: number, k0: number, k1: number): Uint32Array {
  return kernel ? kernel(n, offset, k0, k1) : philoxWordsJs(n, offset, k0, k1);
}

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;

let jsWords = new Uint32Array(0);

/** The same words in JavaScript (the fallback, and the tests' check of the WebAssembly kernel). */
export function philoxWordsJs(n: number, offset: number, k0: number, k1: number): Uint32Array {
  if (jsWords.length < 2 * n) jsWords = new Uint32Array(2 * n);
  const words = jsWords;
  for (let i = 0; i < n; i++) {
    let c0 = offset >>> 0;
    let c1 = 0;
    let c2 = i;
    let c3 = 0;
    let a = k0 >>> 0;
    let b = k1 >>> 0;
    for (let round = 0; round < 10; round++) {
      // The high words of c0·M0 and c2·M1 from 16-bit partial products (each below 2^32: exact).
      let lo = c0 & 0xffff;
      let hi = c0 >>> 16;
      let ll = lo * M0_LO;
      let lh = lo * M0_HI;
      let hl = hi * M0_LO;
      const hi0 = hi * M0_HI + (lh >>> 16) + (hl >>> 16) + (((ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16);
      lo = c2 & 0xffff;
      hi = c2 >>> 16;
      ll = lo * M1_LO;
      lh = lo * M1_HI;
      hl = hi * M1_LO;
      const hi1 = hi * M1_HI + (lh >>> 16) + (hl >>> 16) + (((ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16);
      const lo0 = Math.imul(c0, M0);
      const lo1 = Math.imul(c2, M1);
      c0 = (hi1 ^ c1 ^ a) >>> 0;
      c1 = lo1 >>> 0;
      c2 = (hi0 ^ c3 ^ b) >>> 0;
      c3 = lo0 >>> 0;
      a = (a + W0) >>> 0;
      b = (b + W1) >>> 0;
    }
    words[2 * i] = c0;
    words[2 * i + 1] = c1;
  }
  return words.subarray(0, 2 * n);
}

/** The part of the WebAssembly API used here (the server's TypeScript libs leave it out with the DOM). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasm = (globalThis as unknown as {
  WebAssembly?: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
    validate(bytes: Uint8Array): boolean;
  };
}).WebAssembly;

/**
 * A module exporting its memory `mem` and `philox(out, n, offset, k0, k1)`, which writes the words
 * (two i32 per element) from byte `out` (written out by hand: the project has no WebAssembly toolchain):
 *   for i < n: c = [offset, 0, i, 0], key = [k0, k1]; 10 times: p0 = u64(c0)·M0, p1 = u64(c2)·M1,
 *   c = [hi(p1) ^ c1 ^ k0, lo(p1), hi(p0) ^ c3 ^ k1, lo(p0)], key += [W0, W1]; store c0, c1.
 */
const PHILOX_MODULE = (() => {
  const sleb = (value: number) => {
    let n = BigInt(value);
    const out: number[] = [];
    for (;;) {
      const byte = Number(n & 0x7fn);
      n >>= 7n;
      const done = (n === 0n && !(byte & 0x40)) || (n === -1n && byte & 0x40);
      out.push(done ? byte : byte | 0x80);
      if (done) return out;
    }
  };
  const uleb = (n: number) => {
    const out: number[] = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    return out;
  };
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const i32 = (n: number) => [0x41, ...sleb(n | 0)];
  const i64 = (n: number) => [0x42, ...sleb(n)];
  const [I32_GE_U, I32_ADD, I32_SUB, I32_XOR, I32_SHL, I64_MUL, I64_SHR_U, WRAP, EXTEND_U] = [0x4f, 0x6a, 0x6b, 0x73, 0x74, 0x7e, 0x88, 0xa7, 0xad];
  // Params: out 0, n 1, offset 2, k0 3, k1 4. Locals: i 5, c0 6, c1 7, c2 8, c3 9, a 10, b 11, round 12, t 13 (i32); p0 14, p1 15 (i64).
  const [OUT, N, OFFSET, K0, K1, I, C0, C1, C2, C3, A, B, ROUND, T, P0, P1] = Array.from({ length: 16 }, (_, k) => k);
  const high = (p: number) => [...get(p), ...i64(32), I64_SHR_U, WRAP];
  const address = [...get(OUT), ...get(I), ...i32(3), I32_SHL, I32_ADD];
  const body = [
    2, 9, 0x7f, 2, 0x7e,
    0x02, 0x40, 0x03, 0x40, // block, loop over i
    ...get(I), ...get(N), I32_GE_U, 0x0d, 1, // if i >= n: leave
    ...get(OFFSET), ...set(C0), ...i32(0), ...set(C1), ...get(I), ...set(C2), ...i32(0), ...set(C3),
    ...get(K0), ...set(A), ...get(K1), ...set(B), ...i32(10), ...set(ROUND),
    0x03, 0x40, // loop over the rounds
    ...get(C0), EXTEND_U, ...i64(M0), I64_MUL, ...set(P0),
    ...get(C2), EXTEND_U, ...i64(M1), I64_MUL, ...set(P1),
    ...high(P1), ...get(C1), I32_XOR, ...get(A), I32_XOR, ...set(T),
    ...get(P1), WRAP, ...set(C1),
    ...high(P0), ...get(C3), I32_XOR, ...get(B), I32_XOR, ...set(C2),
    ...get(P0), WRAP, ...set(C3),
    ...get(T), ...set(C0),
    ...get(A), ...i32(W0), I32_ADD, ...set(A),
    ...get(B), ...i32(W1), I32_ADD, ...set(B),
    ...get(ROUND), ...i32(1), I32_SUB, 0x22, ROUND, 0x0d, 0, // round -= 1; again while not 0
    0x0b,
    ...address, ...get(C0), 0x36, 2, 0, // i32.store c0
    ...address, ...get(C1), 0x36, 2, 4, // i32.store c1 at +4
    ...get(I), ...i32(1), I32_ADD, ...set(I),
    0x0c, 0, // next i
    0x0b, 0x0b, 0x0b, // end loop, block, function
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...name('mem'), 2, 0, ...name('philox'), 0, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
})();

const kernel = (() => {
  if (!wasm || !wasm.validate(PHILOX_MODULE)) return undefined;
  const { exports } = new wasm.Instance(new wasm.Module(PHILOX_MODULE), {});
  const memory = exports.mem as WasmMemory;
  const philox = exports.philox as (out: number, n: number, offset: number, k0: number, k1: number) => void;
  return (n: number, offset: number, k0: number, k1: number): Uint32Array => {
    const bytes = 8 * n;
    if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    philox(0, n, offset, k0, k1);
    return new Uint32Array(memory.buffer, 0, 2 * n);
  };
})();

/** Whether the WebAssembly kernel runs here (the tests compare it with philoxWordsJs). */
export const PHILOX_IN_WEBASSEMBLY = kernel !== undefined;
