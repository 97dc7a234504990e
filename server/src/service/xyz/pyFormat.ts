import { pyFloatRepr } from '../semantics/pyNumbers';

/**
 * How A1111's X/Y/Z plot prints a number: `str()` of Python's int or float (`7.0`, `0.25`, `1e-05`), and for a
 * label first `round(x, 8)` (format_value_add_label), so 0.1 + 0.2 shows as 0.3 while the render gets the
 * unrounded value.
 */
export function pyStr(value: number, isFloat: boolean): string {
  return isFloat ? pyFloatRepr(value) : String(value);
}

/**
 * Python's `round(x, ndigits)`: the exact binary value rounded to `ndigits` decimals, ties to even (0.001953125,
 * exactly 1/512, rounds to 0.00195312), read back as the nearest float.
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const { mantissa, exponent } = decompose(x);
  let num = mantissa * 10n ** BigInt(ndigits);
  let den = 1n;
  if (exponent >= 0) num <<= BigInt(exponent);
  else den <<= BigInt(-exponent);
  let q = num / den;
  const r = num - q * den;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice > den || (twice === den && q % 2n !== 0n)) q += num < 0n ? -1n : 1n;
  if (q === 0n) return x < 0 ? -0 : 0;
  return Number(`${q}e-${ndigits}`);
}

/** x = mantissa * 2^exponent exactly. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & 0xfffffffffffffn;
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  return { mantissa: negative ? -mantissa : mantissa, exponent };
}
