/**
 * IEEE 754 half precision ⇄ float32, round to nearest even: the one fp16 codec of the render engine
 * (fp16 graphs' inputs and outputs, fp16 weights, F16 tensors in LoRA files, the test models). The
 * merge rounds its fp16 sums with the same conversion written in WebAssembly (MergeScratch.addToHalf),
 * checked bit for bit against this one.
 */
import { halfToNumber } from '../../service/library/safetensors';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * The fp16 bits nearest to `value` as a float32, ties to even; subnormal halves included, magnitudes
 * from 65520 up become Inf, NaN the quiet NaN 0x7e00 (with its sign), zeros keep their sign.
 */
export function floatToHalf(value: number): number {
  F32[0] = value;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/**
 * The value of fp16 bits (exact: every half is a float32). The language service decodes halves too (a
 * LoRA card's F16 alpha) and cannot import the render engine, so the decoding is its, shared here.
 */
export const halfToFloat: (bits: number) => number = halfToNumber;

let table: Float32Array | undefined;

/**
 * Every fp16 bit pattern's value, built once (256 KiB): decoding many halves is then a lookup per
 * element, faster than the bit arithmetic.
 */
export function halfToFloatTable(): Float32Array {
  if (!table) table = Float32Array.from({ length: 65536 }, (_, bits) => halfToFloat(bits));
  return table;
}

export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]);
  return out;
}

export function fromFloat16(bits: Uint16Array): Float32Array {
  const values = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = values[bits[i]];
  return out;
}
