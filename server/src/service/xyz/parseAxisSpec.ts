import { closestName } from '../features/checks/suggest';
import { pyInt } from '../semantics/pyNumbers';
import { KNOWN_SAMPLERS, KNOWN_SCHEDULE_TYPES } from '../syntax/parameters';
import { XYZ_AXIS_TYPES, XyzAxisTypeInfo, findAxisType } from './axisTypes';
import { CsvQuoteError, CsvValue, splitCsvValues } from './csvValues';
import { GridAxis, GridPlanContext, GridSpecError, XyzAxisName } from './gridTypes';
import { AxisValueError, expandFloatValue, expandIntValue } from './numericRanges';
import { pyRound, pyStr } from './pyFormat';

/**
 * One axis spec (`Type: values`) read as A1111's X/Y/Z plot reads its type and values (scripts/xyz_grid.py
 * `process_axis`): the values split as a CSV row, number ranges expanded, `-1` seeds fixed, names checked.
 * Where A1111 would crash, ignore a value or fall back silently (an unknown VAE, a bad Size, a search string
 * that is not in the prompt), this says what is wrong and where, as a GridSpecError.
 */

/** Most values one axis may expand to (A1111 has no bound; `Seed: 1-10000000` would exhaust memory). */
export const MAX_AXIS_VALUES = 10_000;

export interface AxisValue {
  /** The value as A1111 holds it, printed as Python's str() would (`7.0` for a float axis). */
  text: string;
  label: string;
  /** Where the value (or the range it came from) starts in the spec. */
  column: number;
  /** Int and float axes, Prompt variant (1-based). */
  number?: number;
  /** Prompt order: the parts in this value's order. */
  parts?: string[];
  /** Prompt order: where each part (in this value's order) was written in the spec. */
  partColumns?: number[];
  /** Size. */
  width?: number;
  height?: number;
  /** Sampler, Schedule type, Checkpoint name, VAE: the name as the renderer's list spells it. */
  name?: string;
}

export interface ParsedAxis {
  axis: XyzAxisName;
  info: XyzAxisTypeInfo;
  values: AxisValue[];
  /** Where the values start in the spec. */
  valuesColumn: number;
  grid: GridAxis;
}

export function parseAxisSpec(axis: XyzAxisName, spec: string, context: GridPlanContext = {}): GridAxis {
  return parseAxis(axis, spec, context).grid;
}

export function parseAxis(axis: XyzAxisName, spec: string, context: GridPlanContext = {}): ParsedAxis {
  const fail: Fail = (column, reason) => {
    throw new GridSpecError(axis, column, reason);
  };
  const colon = spec.indexOf(':');
  if (colon < 0) {
    fail(0, `expected 'Type: values' (for example '${XYZ_AXIS_TYPES[0].example}'); types: ${XYZ_AXIS_TYPES.map((t) => t.type).join(', ')}`);
  }
  const typeName = spec.slice(0, colon).trim();
  const typeColumn = spec.length - spec.trimStart().length;
  const info = findAxisType(typeName);
  if (!info) {
    const names = XYZ_AXIS_TYPES.flatMap((t) => [t.type, ...t.aliases]);
    const guess = closestName(typeName, names);
    const type = guess ? findAxisType(guess)!.type : undefined;
    fail(typeColumn, `unknown axis type ${quoted(typeName)}${type ? `; did you mean '${type}'?` : '.'} Types: ${XYZ_AXIS_TYPES.map((t) => t.type).join(', ')}`);
  }
  const valuesColumn = colon + 1;
  let fields: CsvValue[];
  try {
    fields = splitCsvValues(spec.slice(valuesColumn)).map((f) => ({ text: f.text, column: f.column + valuesColumn }));
  } catch (e) {
    if (e instanceof CsvQuoteError) fail(e.column + valuesColumn, e.message);
    throw e;
  }
  if ((info.kind === 'text' || info.kind === 'permutations') && fields.length > MAX_AXIS_VALUES) {
    fail(valuesColumn, `${fields.length} values, more than the ${MAX_AXIS_VALUES} an axis may have`);
  }
  const values = readValues(info, fields, context, fail);
  if (values.length === 0) fail(firstTextColumn(spec, valuesColumn), `no values for ${info.type}`);
  if (values.length > MAX_AXIS_VALUES) fail(valuesColumn, `${values.length} values, more than the ${MAX_AXIS_VALUES} an axis may have`);
  return {
    axis,
    info: info,
    values,
    valuesColumn,
    grid: { type: info.type, values: values.map((v) => v.text), labels: values.map((v) => v.label) },
  };
}

type Fail = (column: number, reason: string) => never;

function readValues(info: XyzAxisTypeInfo, fields: CsvValue[], context: GridPlanContext, fail: Fail): AxisValue[] {
  switch (info.kind) {
    case 'int':
    case 'variant':
      return numberValues(info, fields, false, context, fail);
    case 'float':
      return numberValues(info, fields, true, context, fail);
    case 'permutations':
      return permutationValues(info, fields, fail);
    case 'text':
      return fields.map((f) => textValue(info, f, context, fail));
  }
}

function numberValues(info: XyzAxisTypeInfo, fields: CsvValue[], isFloat: boolean, context: GridPlanContext, fail: Fail): AxisValue[] {
  const out: AxisValue[] = [];
  for (const field of fields) {
    // A1111 skips empty values of number axes (`1, , 3`, a trailing comma).
    if (field.text === '') continue;
    let numbers: number[];
    try {
      numbers = isFloat ? expandFloatValue(field.text, MAX_AXIS_VALUES) : expandIntValue(field.text, MAX_AXIS_VALUES);
    } catch (e) {
      if (e instanceof AxisValueError) fail(field.column, e.message);
      throw e;
    }
    if (out.length + numbers!.length > MAX_AXIS_VALUES) fail(field.column, `more than the ${MAX_AXIS_VALUES} values an axis may have`);
    for (let n of numbers!) {
      checkNumber(info, n, field, fail);
      // A1111's fix_axis_seeds: each -1 of a Seed or Var. seed axis becomes a random seed, fixed for the grid.
      if ((info.type === 'Seed' || info.type === 'Var. seed') && n === -1) n = randomSeed(context);
      const text = pyStr(n, isFloat);
      const shown = isFloat ? pyStr(pyRound(n, 8), true) : text;
      out.push({ text, label: `${info.type}: ${shown}`, column: field.column, number: n });
    }
  }
  return out;
}

function checkNumber(info: XyzAxisTypeInfo, n: number, field: CsvValue, fail: Fail): void {
  const at = (reason: string) => fail(field.column, `${info.type} ${pyStr(n, info.kind === 'float')} (from ${quoted(field.text)}): ${reason}`);
  switch (info.type) {
    case 'Steps':
      if (n < 1) at('needs at least 1 step');
      break;
    case 'Clip skip':
      if (n < 1) at('Clip skip starts at 1 (no layer skipped)');
      break;
    case 'Prompt variant':
      if (n < 1) at('variants are numbered from 1');
      break;
    case 'Seed':
    case 'Var. seed':
      // Past 2^32 torch (and the renderer) wrap a seed, so a big one is taken; below -1 the renderer would
      // draw a new random seed per cell where A1111 wraps it too, so it is refused.
      if (n < -1 || n > Number.MAX_SAFE_INTEGER) at('a seed is -1 (random) or a whole number from 0');
      break;
  }
}

function randomSeed(context: GridPlanContext): number {
  return context.randomSeed ? context.randomSeed() : Math.floor(Math.random() * 4294967294);
}

/** Prompt order: every permutation of the parts, in itertools.permutations order. */
function permutationValues(info: XyzAxisTypeInfo, fields: CsvValue[], fail: Fail): AxisValue[] {
  for (const f of fields) if (f.text === '') fail(f.column, 'an empty part cannot be moved');
  let count = 1;
  for (let i = 2; i <= fields.length; i++) count *= i;
  if (count > MAX_AXIS_VALUES) fail(fields[0].column, `${fields.length} parts make ${count} orders, more than the ${MAX_AXIS_VALUES} an axis may have`);
  return permutations(fields).map((order) => {
    const joined = order.map((f) => f.text).join(', ');
    return { text: joined, label: joined, column: fields[0].column, parts: order.map((f) => f.text), partColumns: order.map((f) => f.column) };
  });
}

/** itertools.permutations(items): lexicographic in the items' positions. */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length === 0) return [];
  const out: T[][] = [];
  const walk = (prefix: T[], rest: T[]) => {
    if (rest.length === 0) {
      out.push(prefix);
      return;
    }
    for (let i = 0; i < rest.length; i++) walk([...prefix, rest[i]], [...rest.slice(0, i), ...rest.slice(i + 1)]);
  };
  walk([], [...items]);
  return out;
}

function textValue(info: XyzAxisTypeInfo, field: CsvValue, context: GridPlanContext, fail: Fail): AxisValue {
  const value = field.text;
  const base = { text: value, column: field.column };
  switch (info.type) {
    case 'Prompt S/R':
      return { ...base, label: value };
    case 'Sampler': {
      const name = knownName(value, context.samplers ?? KNOWN_SAMPLERS, 'sampler', field, fail);
      return { ...base, label: value, name };
    }
    case 'Schedule type': {
      const name = knownName(value, context.scheduleTypes ?? KNOWN_SCHEDULE_TYPES, 'schedule type', field, fail);
      return { ...base, label: `${info.type}: ${value}`, name };
    }
    case 'Checkpoint name':
      return { ...base, label: baseName(value), name: checkpointName(value, context.checkpoints, field, fail) };
    case 'VAE':
      return { ...base, label: `${info.type}: ${value}`, name: vaeName(value, context.vaes, field, fail) };
    case 'Size': {
      const { width, height } = size(value, field, fail);
      return { ...base, label: `${info.type}: ${value}`, width, height };
    }
    default:
      return { ...base, label: `${info.type}: ${value}` };
  }
}

/** A1111's confirm_samplers: the name, any case, among the names and aliases (sd_samplers.samplers_map). */
function knownName(value: string, names: readonly string[], what: string, field: CsvValue, fail: Fail): string {
  const lower = value.toLowerCase();
  const found = names.find((n) => n.toLowerCase() === lower);
  if (found) return found;
  const guess = value ? closestName(value, names) : undefined;
  return fail(field.column, `unknown ${what} ${quoted(value)}${guess ? `; did you mean '${guess}'?` : ''}`);
}

/**
 * A1111's get_closet_checkpoint_match: a name it knows exactly (with or without the extension, with or without
 * folders), else the shortest name that contains the text. Without a list any name is taken.
 */
function checkpointName(value: string, checkpoints: readonly string[] | undefined, field: CsvValue, fail: Fail): string {
  if (value === '') fail(field.column, 'an empty checkpoint name');
  if (!checkpoints) return value;
  const exact = checkpoints.find((c) => c === value || withoutExtension(c) === value || baseName(c) === value || withoutExtension(baseName(c)) === value);
  if (exact) return exact;
  const containing = checkpoints.filter((c) => c.includes(value)).sort((a, b) => a.length - b.length);
  if (containing.length) return containing[0];
  const guess = closestName(value, [...checkpoints, ...checkpoints.map((c) => withoutExtension(baseName(c)))]);
  const listed = checkpoints.length <= 8 ? ` Checkpoints: ${checkpoints.join(', ')}` : '';
  return fail(field.column, `unknown checkpoint ${quoted(value)}${guess ? `; did you mean '${guess}'?` : ''}${listed}`);
}

/** `None` and `Automatic` (any case) as A1111's find_vae takes them; else a VAE file's name, any case. */
function vaeName(value: string, vaes: readonly string[] | undefined, field: CsvValue, fail: Fail): string {
  const lower = value.trim().toLowerCase();
  if (lower === 'none') return 'None';
  if (lower === 'auto' || lower === 'automatic') return 'Automatic';
  if (value === '') fail(field.column, 'an empty VAE name (use None or Automatic for the checkpoint\'s own)');
  if (!vaes) return value;
  const found = vaes.find((v) => v.toLowerCase() === lower || withoutExtension(v).toLowerCase() === lower);
  if (found) return found;
  const guess = closestName(value, vaes);
  // A1111 falls back to Automatic here, printing to its console only; a grid of identical cells helps no one.
  return fail(field.column, `unknown VAE ${quoted(value)}${guess ? `; did you mean '${guess}'?` : ''} (None or Automatic use the checkpoint's own)`);
}

/** A1111's apply_size: `W x H` split at the first `x`, each side an int. */
function size(value: string, field: CsvValue, fail: Fail): { width: number; height: number } {
  const x = value.indexOf('x');
  const width = x < 0 ? undefined : pyInt(value.slice(0, x));
  const height = x < 0 ? undefined : pyInt(value.slice(x + 1));
  if (width === undefined || height === undefined) return fail(field.column, `size ${quoted(value)} is not WIDTHxHEIGHT (512x768)`);
  if (width < 8 || height < 8) return fail(field.column, `size ${quoted(value)}: width and height must be at least 8`);
  return { width, height };
}

/** A value as an error message shows it: quoted, and cut short when long. */
export function quoted(value: string): string {
  return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
}

export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

function withoutExtension(name: string): string {
  return name.replace(/\.(safetensors|ckpt|pt|pth|bin|onnx)$/i, '');
}

function firstTextColumn(spec: string, from: number): number {
  let i = from;
  while (i < spec.length && /\s/.test(spec[i])) i++;
  return i;
}
