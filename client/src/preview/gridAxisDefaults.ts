import type { XyzAxisType } from '../../../server/src/render/api';

/**
 * What the axis value box starts with: the file's own value for that axis (its Seed, Steps, Size...), so the
 * person adds the other values beside it instead of typing the current one. Pure, so it is unit-tested.
 */

/** The parameter-line key A1111 writes for each axis type. */
const PARAMETER_KEYS: Partial<Record<XyzAxisType, string>> = {
  Seed: 'Seed',
  'Var. seed': 'Variation seed',
  'Var. strength': 'Variation seed strength',
  Steps: 'Steps',
  'CFG Scale': 'CFG scale',
  Sampler: 'Sampler',
  'Schedule type': 'Schedule type',
  'Checkpoint name': 'Model',
  VAE: 'VAE',
  'Clip skip': 'Clip skip',
  Size: 'Size',
};

/** The file's parameter line (the last line with a `Steps:` key) as key → value; quoted values keep their text. */
export function parameterValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const line = [...lines].reverse().find((l) => /(^|,\s*)Steps:\s*/.test(l.replace(/#.*$/, '')));
  if (!line) return values;
  // `Key: value` pairs split on commas outside quotes, as A1111's re_param does.
  for (const m of line.matchAll(/\s*([\w ][\w \-/.]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g)) values.set(m[1].trim(), m[2].trim());
  return values;
}

/**
 * The value box's start for `type`: the file's current value followed by `, ` (ready for the next value), or
 * empty when the file has none. Prompt S/R starts from the first LoRA tag: its weight when that text occurs
 * once in the prompt (A1111 replaces every occurrence), else the whole tag.
 */
export function axisDefault(type: XyzAxisType, text: string): string {
  if (type === 'Prompt S/R') {
    const prompt = text.split(/\r?\n(?=Negative prompt:)/)[0];
    const tag = /<(?:lora|lyco):([^:>]+):([^:>]+)(?::[^>]*)?>/.exec(prompt);
    if (!tag) return '';
    const weight = tag[2].trim();
    return (prompt.split(weight).length === 2 ? weight : tag[0]) + ', ';
  }
  const key = PARAMETER_KEYS[type];
  const value = key && parameterValues(text).get(key);
  if (!value) return '';
  // A value with a comma must be quoted in the axis's CSV (A1111 reads the values with csv.reader).
  const shown = value.startsWith('"') ? value : value.includes(',') ? `"${value.replace(/"/g, '""')}"` : value;
  return `${shown}, `;
}
