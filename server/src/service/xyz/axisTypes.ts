import type { XyzAxisType } from './gridTypes';

/**
 * The axis types the X/Y/Z plot takes: A1111's (scripts/xyz_grid.py `axis_options`, its labels and value
 * types) that apply to a `.prompt` render, and `Prompt variant` for sd-dynamic-prompts variants.
 */

/** How the values are read: A1111's `int`, `float` (both with ranges), `str`, and `str_permutations`. */
export type AxisValueKind = 'int' | 'float' | 'text' | 'permutations' | 'variant';

/**
 * How a value's label is drawn: `Type: value` (format_value_add_label), the value alone (format_value),
 * the permuted values joined by `, ` (format_value_join_list), the file name without folders (format_remove_path).
 */
export type AxisLabelStyle = 'typeAndValue' | 'value' | 'joined' | 'baseName';

export interface XyzAxisTypeInfo {
  type: XyzAxisType;
  /** One line for a usage text or a quick pick. */
  description: string;
  /** A spec to show or pre-fill. */
  example: string;
  kind: AxisValueKind;
  labelStyle: AxisLabelStyle;
  /** Other names accepted for the type (any case), e.g. the parameter-line key. */
  aliases: readonly string[];
}

export const XYZ_AXIS_TYPES: readonly XyzAxisTypeInfo[] = [
  {
    type: 'Seed',
    description: 'Seed of each cell; -1 is a random seed, picked once for the grid',
    example: 'Seed: 1-4',
    kind: 'int',
    labelStyle: 'typeAndValue',
    aliases: [],
  },
  {
    type: 'Var. seed',
    description: 'Variation seed (with Var. strength above 0)',
    example: 'Var. seed: 1-4',
    kind: 'int',
    labelStyle: 'typeAndValue',
    aliases: ['Variation seed', 'Subseed'],
  },
  {
    type: 'Var. strength',
    description: 'Variation seed strength, 0 to 1',
    example: 'Var. strength: 0-1 [5]',
    kind: 'float',
    labelStyle: 'typeAndValue',
    aliases: ['Variation seed strength', 'Variation strength'],
  },
  { type: 'Steps', description: 'Sampling steps', example: 'Steps: 10-30 (+10)', kind: 'int', labelStyle: 'typeAndValue', aliases: [] },
  { type: 'CFG Scale', description: 'Classifier-free guidance scale', example: 'CFG Scale: 5-9 (+2)', kind: 'float', labelStyle: 'typeAndValue', aliases: ['CFG'] },
  {
    type: 'Prompt S/R',
    description: 'Search and replace: the first value is searched in the prompt and negative prompt, each value replaces it',
    example: 'Prompt S/R: <lora:name:0.8>, <lora:name:0.4>, <lora:name:1>',
    kind: 'text',
    labelStyle: 'value',
    aliases: ['Prompt SR', 'S/R'],
  },
  {
    type: 'Prompt order',
    description: 'Every order of the listed prompt parts',
    example: 'Prompt order: red, hat, smile',
    kind: 'permutations',
    labelStyle: 'joined',
    aliases: [],
  },
  { type: 'Sampler', description: 'Sampler, by its A1111 name', example: 'Sampler: Euler a, DPM++ 2M', kind: 'text', labelStyle: 'value', aliases: [] },
  {
    type: 'Schedule type',
    description: 'Noise schedule (Automatic, Karras, Exponential, ...)',
    example: 'Schedule type: Automatic, Karras',
    kind: 'text',
    labelStyle: 'typeAndValue',
    aliases: ['Scheduler'],
  },
  {
    type: 'Checkpoint name',
    description: 'Checkpoint (run outermost: a model change is the slowest)',
    example: 'Checkpoint name: v1-5-pruned-emaonly, dreamshaper_8',
    kind: 'text',
    labelStyle: 'baseName',
    aliases: ['Checkpoint', 'Model'],
  },
  { type: 'VAE', description: 'VAE; None or Automatic for the checkpoint\'s own', example: 'VAE: None, vae-ft-mse-840000-ema-pruned.safetensors', kind: 'text', labelStyle: 'typeAndValue', aliases: [] },
  { type: 'Clip skip', description: 'CLIP layers to skip from the end, 1 (none) to 12', example: 'Clip skip: 1-2', kind: 'int', labelStyle: 'typeAndValue', aliases: ['CLIP stop at last layers'] },
  { type: 'Size', description: 'Width x height', example: 'Size: 512x512, 768x512', kind: 'text', labelStyle: 'typeAndValue', aliases: [] },
  {
    type: 'Prompt variant',
    description: "The file's dynamic-prompt variants ({red|blue}), numbered from 1 in combinatorial order",
    example: 'Prompt variant: 1-4',
    kind: 'variant',
    labelStyle: 'typeAndValue',
    aliases: ['Variant', 'Dynamic prompt'],
  },
];

/** The type a spec names, any case, by label or alias; undefined for an unknown name. */
export function findAxisType(name: string): XyzAxisTypeInfo | undefined {
  const wanted = name.trim().toLowerCase();
  return XYZ_AXIS_TYPES.find((t) => t.type.toLowerCase() === wanted || t.aliases.some((a) => a.toLowerCase() === wanted));
}
