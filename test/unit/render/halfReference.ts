/**
 * fp16 by definition, for checking the codec (half.ts) and MergeScratch's WebAssembly rounding: no bit
 * tricks, only the values of the halves and a search among them.
 */

/** The value of every non-negative finite half (bits 0 … 0x7bff), then 65536 where Inf's bits are, for rounding. */
const POSITIVE = Float64Array.from({ length: 0x7c01 }, (_, bits) => {
  const exponent = bits >> 10;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return mantissa * 2 ** -24;
  return (1024 + mantissa) * 2 ** (exponent - 25);
});

/**
 * The bits of the half nearest to `x` (a float32 value), ties to the half whose bits are even; magnitudes
 * from 65520 (half-way between 65504 and 2^16) are Inf; NaN gives the quiet NaN 0x7e00 with x's sign unknown,
 * so callers check NaN-ness apart.
 */
export function nearestHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  // The largest half not above a.
  let [lo, hi] = [0, 0x7bff];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (POSITIVE[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (POSITIVE[lo] === a) return sign | lo;
  // 2a against the sum of the two neighbours: both exact in double, where a − below may not be.
  const twice = 2 * a;
  const between = POSITIVE[lo] + POSITIVE[lo + 1];
  const bits = twice < between ? lo : twice > between ? lo + 1 : lo & 1 ? lo + 1 : lo;
  return sign | bits;
}

/** Whether fp16 bits are a NaN with the quiet bit set. */
export function isQuietHalfNaN(bits: number): boolean {
  return (bits & 0x7e00) === 0x7e00;
}

/** Every half that is not a NaN, as bits. */
export function everyOrderedHalf(): number[] {
  return Array.from({ length: 65536 }, (_, bits) => bits).filter((bits) => (bits & 0x7c00) !== 0x7c00 || (bits & 0x3ff) === 0);
}

/**
 * float32 values worth rounding to fp16: every tie between two neighbouring halves and the floats just
 * either side of it, the edges of the subnormal, normal and overflow ranges, zeros, infinities, NaNs,
 * then `random` floats from random bits (half of them with exponents around fp16's range).
 */
export function edgeAndRandomFloats(random: number, seed = 1): Float32Array {
  const values: number[] = [];
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const neighbours = (x: number) => {
    f32[0] = x;
    const bits = u32[0];
    const out = [f32[0]];
    u32[0] = bits - 1;
    out.push(f32[0]);
    u32[0] = bits + 1;
    out.push(f32[0]);
    return out;
  };
  for (let bits = 0; bits < 0x7c00; bits++) values.push(...neighbours((POSITIVE[bits] + POSITIVE[bits + 1]) / 2));
  const edges = [0, 2 ** -149, 2 ** -126, 2 ** -25, 3 * 2 ** -25, 2 ** -24, 2 ** -14, 65504, 65519, 65520, 65536, 3.4028234663852886e38];
  for (const e of edges) values.push(...neighbours(e).filter((v) => v >= 0));
  values.push(Infinity, NaN);
  for (const v of [...values]) values.push(-v);
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const bits = new Uint32Array(random);
  // Odd ones any float; even ones of exponent 2^-28 … 2^17, past fp16's range at both ends.
  for (let i = 0; i < random; i++) bits[i] = i & 1 ? next() : (next() & 0x807fffff) | ((99 + (next() % 46)) << 23);
  return Float32Array.from([...values, ...new Float32Array(bits.buffer)]);
}

/** The value of fp16 bits (NaN for every NaN). */
export function halfValue(bits: number): number {
  const magnitude = bits & 0x7fff;
  if (magnitude > 0x7c00) return NaN;
  const value = magnitude === 0x7c00 ? Infinity : POSITIVE[magnitude];
  return bits & 0x8000 ? -value : value;
}
