import { pyFloat, pyInt } from '../semantics/pyNumbers';

/**
 * A1111's range syntax for number axes (scripts/xyz_grid.py `process_axis`), with its arithmetic:
 * - int axes: `1-5` and `1-5 (+2)` are Python's `range(start, end + 1, step)`; `1-5 [3]` is
 *   `int()` of each value of `np.linspace(start, end, 3)` (truncated toward zero, not rounded);
 * - float axes: `1-3 (+0.5)` is `np.arange(start, end + step, step)`, `0-1 [5]` is `np.linspace(0, 1, 5)`.
 * Its patterns are kept as written, including the float pattern's unescaped `.` (any character), so
 * `1x5-9` is a range whose start `1x5` Python's float() then rejects.
 */

const D = '\\p{Nd}';
const RE_RANGE = new RegExp(`^\\s*([+-]?\\s*${D}+)\\s*-\\s*([+-]?\\s*${D}+)(?:\\s*\\(([+-]${D}+)\\s*\\))?\\s*$`, 'u');
const RE_RANGE_FLOAT = new RegExp(
  `^\\s*([+-]?\\s*${D}+(?:.${D}*)?)\\s*-\\s*([+-]?\\s*${D}+(?:.${D}*)?)(?:\\s*\\(([+-]${D}+(?:.${D}*)?)\\s*\\))?\\s*$`,
  'u',
);
const RE_RANGE_COUNT = new RegExp(`^\\s*([+-]?\\s*${D}+)\\s*-\\s*([+-]?\\s*${D}+)(?:\\s*\\[(${D}+)\\s*\\])?\\s*$`, 'u');
const RE_RANGE_COUNT_FLOAT = new RegExp(
  `^\\s*([+-]?\\s*${D}+(?:.${D}*)?)\\s*-\\s*([+-]?\\s*${D}+(?:.${D}*)?)(?:\\s*\\[(${D}+(?:.${D}*)?)\\s*\\])?\\s*$`,
  'u',
);

/** A value that is not a number, or a range that gives nothing or too much: the message says which. */
export class AxisValueError extends Error {}

/** Longer than this, a value is no number or range anyone means; the float pattern's `.` would make matching it slow. */
const MAX_NUMBER_TEXT = 100;

function checkLength(value: string): void {
  if (value.length > MAX_NUMBER_TEXT) throw new AxisValueError(`'${value.slice(0, 20)}…' (${value.length} characters) is too long for a number or a range`);
}

/** Expands one value of an int axis: a range, or one number. */
export function expandIntValue(value: string, maxValues: number): number[] {
  checkLength(value);
  const m = RE_RANGE.exec(value);
  if (m) {
    const start = intOf(m[1]);
    const end = intOf(m[2]) + 1;
    const step = m[3] !== undefined ? intOf(m[3]) : 1;
    if (step === 0) throw new AxisValueError(`'${value}': the step is 0`);
    const count = step > 0 ? Math.max(0, Math.ceil((end - start) / step)) : Math.max(0, Math.ceil((start - end) / -step));
    if (count === 0) throw new AxisValueError(`'${value}' gives no values (range(${start}, ${end}, ${step}) is empty${step > 0 && start >= end ? '; count down with a negative step, as in 5-1 (-1)' : ''})`);
    guard(value, count, maxValues);
    return Array.from({ length: count }, (_, i) => start + i * step);
  }
  const mc = RE_RANGE_COUNT.exec(value);
  if (mc) {
    const start = intOf(mc[1]);
    const end = intOf(mc[2]);
    const num = mc[3] !== undefined ? intOf(mc[3]) : 1;
    if (num === 0) throw new AxisValueError(`'${value}' asks for 0 values`);
    guard(value, num, maxValues);
    // int() of -0.33 is 0, not -0.
    return linspace(start, end, num).map((v) => Math.trunc(v) + 0);
  }
  const n = pyInt(value);
  if (n === undefined) throw new AxisValueError(`'${value}' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])`);
  return [n];
}

/** Expands one value of a float axis: a range, or one number. */
export function expandFloatValue(value: string, maxValues: number): number[] {
  checkLength(value);
  const m = RE_RANGE_FLOAT.exec(value);
  if (m) {
    const start = floatOf(m[1], value);
    const end = floatOf(m[2], value);
    const step = m[3] !== undefined ? floatOf(m[3], value) : 1;
    if (step === 0) throw new AxisValueError(`'${value}': the step is 0`);
    const values = arange(start, end + step, step, value, maxValues);
    if (values.length === 0) throw new AxisValueError(`'${value}' gives no values${step > 0 && start > end ? '; count down with a negative step, as in 9-5 (-1.5)' : ''}`);
    return values;
  }
  const mc = RE_RANGE_COUNT_FLOAT.exec(value);
  if (mc) {
    const start = floatOf(mc[1], value);
    const end = floatOf(mc[2], value);
    // A1111 reads the count with int(), which refuses `2.5`.
    const num = mc[3] !== undefined ? pyInt(mc[3]) : 1;
    if (num === undefined) throw new AxisValueError(`'${value}': the count in [ ] must be a whole number`);
    if (num === 0) throw new AxisValueError(`'${value}' asks for 0 values`);
    guard(value, num, maxValues);
    return linspace(start, end, num);
  }
  const x = pyFloat(value);
  if (x === undefined || !Number.isFinite(x)) throw new AxisValueError(`'${value}' is not a number or a range (1-3 (+0.5), 0-1 [5])`);
  return [x];
}

function intOf(text: string): number {
  // Python's int() takes no space between the sign and the digits, though the pattern lets one through.
  const n = pyInt(text);
  if (n === undefined) throw new AxisValueError(`'${text}' is not a whole number`);
  return n;
}

function floatOf(text: string, value: string): number {
  const x = pyFloat(text);
  if (x === undefined || !Number.isFinite(x)) throw new AxisValueError(`'${text}' in '${value}' is not a number`);
  return x;
}

function guard(value: string, count: number, maxValues: number): void {
  if (count > maxValues) throw new AxisValueError(`'${value}' gives ${count} values, more than the ${maxValues} an axis may have`);
}

/**
 * `np.linspace(start, stop, num)`: `start + i * step` with `step = (stop - start) / (num - 1)`, the last value
 * set to `stop` exactly; one value is `[start]`.
 */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const delta = stop - start;
  const step = delta / (num - 1);
  const out = Array.from({ length: num }, (_, i) => (step === 0 ? (i / (num - 1)) * delta : i * step) + start);
  out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for floats: `ceil((stop - start) / step)` values; numpy stores `start` and
 * `start + step`, then fills the rest as `start + i * ((start + step) - start)`, so its step is the one the
 * first two values differ by (0.1 + 0.2 - 0.1 is 0.20000000000000004, not 0.2).
 */
export function arange(start: number, stop: number, step: number, value = '', maxValues = Infinity): number[] {
  const length = Math.ceil((stop - start) / step);
  if (!Number.isFinite(length) || length <= 0) return [];
  guard(value, length, maxValues);
  const next = start + step;
  const delta = next - start;
  return Array.from({ length }, (_, i) => (i === 0 ? start : i === 1 ? next : start + i * delta));
}
