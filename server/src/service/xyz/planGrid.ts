import { expandPromptFile, ExpandError } from '../dynamic/expand';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';
import { GridCellPlan, GridPlan, GridPlanContext, GridSpecError } from './gridTypes';
import { AxisValue, ParsedAxis, parseAxis, quoted } from './parseAxisSpec';
import { PromptFileParts, cloneParts, parameterValue, readPromptFile, removeParameter, setParameter, writePromptFile } from './promptFileParts';
import { orderCells } from './runOrder';

/**
 * Every cell of an X/Y/Z plot as a whole `.prompt` text: the file with each axis's value applied as A1111's
 * X/Y/Z plot applies it to its processing object (scripts/xyz_grid.py `apply_*`), written back as generation
 * data the renderer reads like any other file.
 */

export const DEFAULT_MAX_CELLS = 1000;

interface Variant {
  prompt: string;
  negativePrompt: string;
}

export function planGrid(promptText: string, specs: { x?: string; y?: string; z?: string }, context: GridPlanContext = {}): GridPlan {
  const axes: ParsedAxis[] = [];
  for (const name of ['x', 'y', 'z'] as const) {
    const spec = specs[name];
    if (spec !== undefined && spec.trim() !== '') axes.push(parseAxis(name, spec, context));
  }
  const x = axes.find((a) => a.axis === 'x');
  if (!x) {
    const other = axes[0];
    throw new GridSpecError('x', 0, other ? `an X axis is needed before ${other.axis.toUpperCase()} (move the ${other.axis.toUpperCase()} axis to X)` : 'no axis given');
  }
  const y = axes.find((a) => a.axis === 'y');
  const z = axes.find((a) => a.axis === 'z');
  const counts = { x: x.values.length, y: y?.values.length ?? 1, z: z?.values.length ?? 1 };
  const total = counts.x * counts.y * counts.z;
  const maxCells = context.maxCells ?? DEFAULT_MAX_CELLS;
  if (total > maxCells) {
    const widest = axes.reduce((a, b) => (b.values.length > a.values.length ? b : a));
    throw new GridSpecError(widest.axis, widest.valuesColumn, `${counts.x}x${counts.y}x${counts.z} is ${total} cells, more than the ${maxCells} a grid may have`);
  }

  const base = readPromptFile(promptText);
  fixSeeds(base, axes, context);
  const variantAxes = axes.filter((a) => a.info.kind === 'variant');
  const variants = variantAxes.length ? fileVariants(promptText, variantAxes, context) : [];
  for (const axis of variantAxes) axis.grid.labels = variantLabels(axis, variants);

  const cells: GridCellPlan[] = [];
  for (let iz = 0; iz < counts.z; iz++) {
    for (let iy = 0; iy < counts.y; iy++) {
      for (let ix = 0; ix < counts.x; ix++) {
        const chosen: [ParsedAxis, AxisValue][] = [[x, x.values[ix]]];
        if (y) chosen.push([y, y.values[iy]]);
        if (z) chosen.push([z, z.values[iz]]);
        cells.push(planCell(base, chosen, variants, { x: ix, y: iy, z: iz }));
      }
    }
  }
  return {
    x: x.grid,
    ...(y ? { y: y.grid } : {}),
    ...(z ? { z: z.grid } : {}),
    cells: orderCells(cells, counts),
  };
}

/**
 * A1111's fix_seed: a file with no seed or `-1` gets one random seed for the whole grid (so the cells differ only
 * in what the axes change); a `-1` variation seed likewise.
 */
function fixSeeds(parts: PromptFileParts, axes: ParsedAxis[], context: GridPlanContext): void {
  const random = () => String(context.randomSeed ? context.randomSeed() : Math.floor(Math.random() * 4294967294));
  if (!axes.some((a) => a.info.type === 'Seed')) {
    const seed = parameterValue(parts, 'Seed');
    if (seed === undefined || seed.trim() === '-1') setParameter(parts, 'Seed', random());
  }
  if (!axes.some((a) => a.info.type === 'Var. seed') && parameterValue(parts, 'Variation seed')?.trim() === '-1') {
    setParameter(parts, 'Variation seed', random());
  }
}

/** The file's variants in combinatorial order, and a check that every asked-for variant exists. */
function fileVariants(promptText: string, variantAxes: ParsedAxis[], context: GridPlanContext): Variant[] {
  const axis = variantAxes[0];
  let variants: Variant[];
  try {
    variants = context.variants
      ? context.variants(promptText)
      : (() => {
          const all = expandPromptFile(promptText, WildcardLibrary.fromValues({}), { mode: 'all' });
          return all.prompts.map((prompt, i) => ({ prompt, negativePrompt: all.negativePrompts[i] }));
        })();
  } catch (e) {
    if (e instanceof ExpandError) throw new GridSpecError(axis.axis, axis.valuesColumn, `the file's variants cannot be listed: ${e.message}`);
    throw e;
  }
  for (const variantAxis of variantAxes) {
    for (const value of variantAxis.values) {
      if (value.number! > variants.length) {
        throw new GridSpecError(variantAxis.axis, value.column, `variant ${value.number} does not exist: the file has ${variants.length} variant${variants.length === 1 ? '' : 's'}`);
      }
    }
  }
  return variants;
}

/**
 * `Prompt variant: 2` says little on a grid, so a variant's label also shows what makes it differ from the
 * file's other variants: its text without the start and end that all of them share (cut at word boundaries),
 * and the negative prompt's the same way after a `/` when those differ too.
 */
function variantLabels(axis: ParsedAxis, variants: Variant[]): string[] {
  const positives = distinctParts(variants.map((v) => v.prompt));
  const negatives = distinctParts(variants.map((v) => v.negativePrompt));
  return axis.values.map((value) => {
    const i = value.number! - 1;
    const shown = [positives[i], negatives[i]].filter((t) => t !== '').join(' / ');
    return shown ? `${value.number}: ${shown}` : axis.grid.labels[axis.values.indexOf(value)];
  });
}

function distinctParts(texts: string[]): string[] {
  if (texts.length < 2 || texts.every((t) => t === texts[0])) return texts.map(() => '');
  let prefix = 0;
  while (texts.every((t) => prefix < t.length && t[prefix] === texts[0][prefix])) prefix++;
  while (prefix > 0 && !/[\s,]/.test(texts[0][prefix - 1])) prefix--;
  let suffix = 0;
  while (texts.every((t) => suffix < t.length - prefix && t[t.length - 1 - suffix] === texts[0][texts[0].length - 1 - suffix])) suffix++;
  while (suffix > 0 && !/[\s,]/.test(texts[0][texts[0].length - suffix])) suffix--;
  return texts.map((t) => t.slice(prefix, t.length - suffix).replace(/^[\s,]+|[\s,]+$/g, ''));
}

function planCell(base: PromptFileParts, chosen: [ParsedAxis, AxisValue][], variants: Variant[], at: { x: number; y: number; z: number }): GridCellPlan {
  const parts = cloneParts(base);
  const cell: GridCellPlan = { ...at, promptText: '' };
  // A variant replaces the whole prompt, so it goes first and the other axes change the variant's text
  // (as the webui runs Prompt S/R on the template before sd-dynamic-prompts expands it).
  const ordered = [...chosen.filter(([a]) => a.info.kind === 'variant'), ...chosen.filter(([a]) => a.info.kind !== 'variant')];
  for (const [axis, value] of ordered) applyValue(parts, axis, value, variants, cell);
  cell.promptText = writePromptFile(parts);
  // A replacement can hold a line break and `Negative prompt:` or something that reads as a parameter line;
  // the cell would then render other text than the grid says.
  const back = readPromptFile(cell.promptText);
  if (back.positive !== parts.positive || back.negative !== parts.negative) {
    const [axis, value] = ordered.find(([a]) => a.info.type === 'Prompt S/R' || a.info.kind === 'variant' || a.info.kind === 'permutations') ?? ordered[0];
    throw new GridSpecError(axis.axis, value.column, `${quoted(value.text)} changes where the prompt, the negative prompt or the parameter line start; the cell would not render as planned`);
  }
  return cell;
}

/** Where each number axis writes on the parameter line (A1111's infotext keys). */
const PARAMETER_KEYS: Partial<Record<string, string>> = {
  Seed: 'Seed',
  'Var. seed': 'Variation seed',
  'Var. strength': 'Variation seed strength',
  Steps: 'Steps',
  'CFG Scale': 'CFG scale',
  'Clip skip': 'Clip skip',
  Sampler: 'Sampler',
  'Schedule type': 'Schedule type',
};

function applyValue(parts: PromptFileParts, axis: ParsedAxis, value: AxisValue, variants: Variant[], cell: GridCellPlan): void {
  const type = axis.info.type;
  const key = PARAMETER_KEYS[type];
  if (key) {
    setParameter(parts, key, value.name ?? value.text);
    return;
  }
  switch (type) {
    case 'Size':
      setParameter(parts, 'Size', `${value.width}x${value.height}`);
      return;
    case 'Checkpoint name':
      // `Model hash:` would win over `Model:` when the renderer picks the checkpoint, so it goes.
      removeParameter(parts, 'Model hash');
      setParameter(parts, 'Model', value.name!);
      cell.checkpoint = value.name!;
      return;
    case 'VAE':
      removeParameter(parts, 'VAE hash');
      if (value.name === 'None' || value.name === 'Automatic') removeParameter(parts, 'VAE');
      else setParameter(parts, 'VAE', value.name!);
      cell.vae = value.name!;
      return;
    case 'Prompt S/R':
      return searchReplace(parts, axis, value);
    case 'Prompt order':
      return reorder(parts, axis, value);
    case 'Prompt variant':
      return useVariant(parts, variants[value.number! - 1]);
  }
}

/**
 * A1111's apply_prompt: the axis's first value is searched in the prompt and the negative prompt, and every
 * occurrence in both is replaced (Python's str.replace). A1111 stops the grid when the search string is in
 * neither; so does this, naming it. The `Template:` lines change with the prompt they stand for.
 */
function searchReplace(parts: PromptFileParts, axis: ParsedAxis, value: AxisValue): void {
  const search = axis.values[0].text;
  if (search === '') throw new GridSpecError(axis.axis, axis.values[0].column, 'Prompt S/R: the first value is the text to search for, and it is empty');
  if (!parts.positive.includes(search) && !(parts.negative ?? '').includes(search)) {
    throw new GridSpecError(axis.axis, axis.values[0].column, `Prompt S/R did not find ${quoted(search)} in the prompt or the negative prompt`);
  }
  const replace = (text: string) => text.split(search).join(value.text);
  parts.positive = replace(parts.positive);
  if (parts.negative !== undefined) parts.negative = replace(parts.negative);
  if (parts.template !== undefined) parts.template = replace(parts.template);
  if (parts.negativeTemplate !== undefined) parts.negativeTemplate = replace(parts.negativeTemplate);
}

/**
 * A1111's apply_order: the listed parts are found in the prompt (first occurrence), sorted by where they are,
 * and written back in the value's order into the same slots; the text between them stays. A part that is not in
 * the prompt would garble it in A1111; here it is an error.
 */
function reorder(parts: PromptFileParts, axis: ParsedAxis, value: AxisValue): void {
  for (const token of value.parts!) {
    if (!parts.positive.includes(token)) throw new GridSpecError(axis.axis, tokenColumn(axis, token), `Prompt order: ${quoted(token)} is not in the prompt`);
  }
  parts.positive = applyOrder(parts.positive, value.parts!);
  if (parts.template !== undefined && value.parts!.every((t) => parts.template!.includes(t))) parts.template = applyOrder(parts.template, value.parts!);
}

export function applyOrder(prompt: string, order: readonly string[]): string {
  const tokenOrder = order.map((token) => ({ at: prompt.indexOf(token), token }));
  // Python's list.sort(key=position) is stable.
  tokenOrder.sort((a, b) => a.at - b.at);
  const pieces: string[] = [];
  let rest = prompt;
  for (const { token } of tokenOrder) {
    const n = rest.indexOf(token);
    // Python slices with -1 when a part is no longer found (a part inside another); kept as A1111 does it.
    pieces.push(n < 0 ? rest.slice(0, -1) : rest.slice(0, n));
    rest = n < 0 ? rest.slice(-1 + token.length) : rest.slice(n + token.length);
  }
  return pieces.map((piece, i) => piece + order[i]).join('') + rest;
}

function tokenColumn(axis: ParsedAxis, token: string): number {
  const first = axis.values[0];
  return first.partColumns?.[first.parts!.indexOf(token)] ?? first.column;
}

/**
 * A variant's prompt and negative prompt, with `Template:` / `Negative Template:` lines as sd-dynamic-prompts
 * writes them into the image's generation data (the templates the variant came from).
 */
function useVariant(parts: PromptFileParts, variant: Variant): void {
  const template = parts.template ?? parts.positive;
  const negativeTemplate = parts.negativeTemplate ?? parts.negative;
  parts.positive = variant.prompt;
  if (parts.negative !== undefined || variant.negativePrompt) parts.negative = variant.negativePrompt;
  parts.template = template;
  parts.negativeTemplate = negativeTemplate;
}


