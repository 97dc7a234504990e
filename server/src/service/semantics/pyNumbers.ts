/**
 * Python's `float(str)` and `int(str)` as A1111 calls them on prompt text.
 * A1111 feeds raw tag arguments and emphasis weights to these, so what they accept
 * (surrounding whitespace, `_` between digits, `inf`, `1e1`, `+.5`) decides whether a
 * generation works or raises.
 */

// Python's str.strip() removes Unicode whitespace; JS \s is close enough for prompts
// (both cover the ASCII and common Unicode spaces).
const FLOAT_BODY = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const FLOAT_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;
const INT_BODY = /^[+-]?\d(?:_?\d)*$/;

import { PY_SPACE } from './pyText';

const EDGE_SPACE = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'gu');
const NON_ASCII_DIGIT = /[^\x00-\x7f]/u;
const ND = /\p{Nd}/u;

/** Python's str.strip() with its own idea of whitespace. */
function pyStrip(text: string): string {
  return text.replace(EDGE_SPACE, '');
}

/**
 * Python's int()/float() read any Unicode decimal digit (`١`, `𝟙`) as its ASCII value.
 * Unicode lays each script's digits out as runs of ten from zero, so a digit's value is its
 * distance from the start of its run.
 */
function asciiDigits(text: string): string {
  if (!NON_ASCII_DIGIT.test(text)) return text;
  let out = '';
  for (const ch of text) {
    if (ch.charCodeAt(0) < 128 || !ND.test(ch)) {
      out += ch;
      continue;
    }
    let cp = ch.codePointAt(0)!;
    let n = 0;
    while (ND.test(String.fromCodePoint(cp - 1))) {
      cp--;
      n++;
    }
    out += String(n % 10);
  }
  return out;
}

/** `float(text)` in Python: the value, or undefined where Python raises ValueError. */
export function pyFloat(text: string): number | undefined {
  const s = asciiDigits(pyStrip(text));
  if (FLOAT_BODY.test(s)) return Number(s.replace(/_/g, ''));
  if (FLOAT_SPECIAL.test(s)) {
    const negative = s.startsWith('-');
    if (/nan/i.test(s)) return NaN;
    return negative ? -Infinity : Infinity;
  }
  return undefined;
}

/** `int(text)` in Python (base 10): the value, or undefined where Python raises ValueError. */
export function pyInt(text: string): number | undefined {
  const s = asciiDigits(pyStrip(text));
  if (!INT_BODY.test(s)) return undefined;
  return Number(s.replace(/_/g, ''));
}

/** Python's repr of a float, as json.dumps writes it (`1.0`, `0.55`, `1e-05`, `1.5730000000000004`). */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() with no argument gives the shortest round-trip digits, as repr does.
  const [mantissa, exponentText] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent >= -5 && exponent < 16) {
    // repr switches to exponent notation below 1e-4 (exponent < -4) and from 1e16 on.
    if (exponent < -4) return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}e-0${-exponent}`;
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1);
    return `${sign}${whole}.${fraction || '0'}`;
  }
  const e = Math.abs(exponent) < 10 ? `0${Math.abs(exponent)}` : String(Math.abs(exponent));
  return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}e${exponent < 0 ? '-' : '+'}${e}`;
}
