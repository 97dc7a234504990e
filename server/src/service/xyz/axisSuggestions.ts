import { expandPromptFile } from '../dynamic/expand';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';
import { pyFloat, pyInt } from '../semantics/pyNumbers';
import { parsePromptDocument } from '../syntax/document';
import { XYZ_AXIS_TYPES } from './axisTypes';
import type { GridPlanContext, XyzAxisType } from './gridTypes';
import { parameterValue, readPromptFile } from './promptFileParts';
import { pyStr } from './pyFormat';

/**
 * A spec to pre-fill for each axis type, built from the file's own values, so the panel's quick pick (and a
 * usage hint) starts from something that plots this file: its LoRA at other weights, its steps and CFG scale
 * around what it has, its size turned, its variants. Every suggestion parses as it is.
 */
export function suggestAxisSpec(promptText: string, type: XyzAxisType, context: GridPlanContext = {}): string {
  const parts = readPromptFile(promptText);
  const param = (key: string) => parameterValue(parts, key);
  const spec = (values: string[]) => `${type}: ${values.map(csvField).join(', ')}`;
  switch (type) {
    case 'Seed': {
      const seed = pyInt(param('Seed') ?? '');
      return seed !== undefined && seed >= 0 && seed <= 0xffffffff - 3 ? `Seed: ${seed}-${seed + 3}` : 'Seed: -1, -1, -1, -1';
    }
    case 'Var. seed':
      return 'Var. seed: 1-4';
    case 'Var. strength':
      return 'Var. strength: 0-1 [5]';
    case 'Steps': {
      const steps = pyInt(param('Steps') ?? '') ?? 20;
      return steps > 10 ? `Steps: ${steps - 10}-${steps + 10} [3]` : `Steps: ${steps}-${steps + 20} [3]`;
    }
    case 'CFG Scale': {
      const cfg = pyFloat(param('CFG scale') ?? '') ?? 7;
      const low = Math.max(1, cfg - 2);
      return `CFG Scale: ${pyStr(low, true)}-${pyStr(low + 4, true)} [3]`;
    }
    case 'Prompt S/R':
      return spec(loraWeights(promptText) ?? [firstPhrase(parts.positive) ?? 'masterpiece', '']);
    case 'Prompt order': {
      const phrases = phrasesOf(parts.positive).slice(0, 3);
      return spec(phrases.length >= 2 ? phrases : ['red', 'hat']);
    }
    case 'Sampler':
      return spec(unique([param('Sampler'), ...(context.samplers ?? ['Euler a', 'DPM++ 2M', 'DDIM'])]).slice(0, 3));
    case 'Schedule type':
      return spec(unique([param('Schedule type'), ...(context.scheduleTypes ?? ['Automatic', 'Karras', 'Exponential'])]).slice(0, 3));
    case 'Checkpoint name':
      return spec(context.checkpoints?.length ? context.checkpoints.slice(0, 4) : [param('Model') ?? 'v1-5-pruned-emaonly']);
    case 'VAE':
      return spec(unique(['None', ...(context.vaes ?? [])]).slice(0, 4));
    case 'Clip skip':
      return 'Clip skip: 1-2';
    case 'Size': {
      const m = /^(\d+)x(\d+)$/.exec(param('Size') ?? '');
      const [w, h] = m ? [Number(m[1]), Number(m[2])] : [512, 512];
      return w === h ? `Size: ${w}x${h}, ${w}x${Math.round((h * 1.5) / 8) * 8}, ${Math.round((w * 1.5) / 8) * 8}x${h}` : `Size: ${w}x${h}, ${h}x${w}`;
    }
    case 'Prompt variant':
      return `Prompt variant: 1-${Math.max(1, Math.min(variantCount(promptText, context), 12))}`;
  }
}

/** Every type with its suggestion for this file, in XYZ_AXIS_TYPES' order (for a quick pick). */
export function suggestAxisSpecs(promptText: string, context: GridPlanContext = {}): { type: XyzAxisType; description: string; spec: string }[] {
  return XYZ_AXIS_TYPES.map((t) => ({ type: t.type, description: t.description, spec: suggestAxisSpec(promptText, t.type, context) }));
}

/** The first LoRA tag at its own weight, off (0) and in between and above: `<lora:x:0.8>, <lora:x:0>, ...`. */
function loraWeights(promptText: string): string[] | undefined {
  const doc = parsePromptDocument(promptText);
  const tag = doc.positive.tags.find((t) => (t.type === 'lora' || t.type === 'lyco') && t.positional.length >= 1);
  if (!tag) return undefined;
  const text = promptText.slice(tag.span.start, tag.span.end);
  const weight = tag.positional.length >= 2 ? pyFloat(tag.positional[1]) : 1;
  const name = tag.positional[0];
  const weights = unique([weight === undefined ? undefined : formatWeight(weight), '0', '0.5', '1']).filter((w) => w !== formatWeight(weight ?? NaN));
  return [text, ...weights.map((w) => `<${tag.type}:${name}:${w}>`)];
}

function formatWeight(w: number): string {
  return Number.isFinite(w) ? String(w) : '';
}

function phrasesOf(prompt: string): string[] {
  return prompt
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#') && !/[<>()[\]{}]/.test(p));
}

/** The first comma-separated part as written (brackets too): a search text Prompt S/R finds. */
function firstPhrase(prompt: string): string | undefined {
  return prompt
    .split(/[,\n]/)
    .map((p) => p.trim())
    .find((p) => p !== '' && !p.startsWith('#'));
}

function variantCount(promptText: string, context: GridPlanContext): number {
  try {
    if (context.variants) return context.variants(promptText).length;
    return expandPromptFile(promptText, WildcardLibrary.fromValues({}), { mode: 'all', maxPrompts: 100 }).prompts.length;
  } catch {
    return 1;
  }
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}

/** A value as one CSV field: quoted when it holds a comma, a quote or a line break, as Python's csv writer does. */
function csvField(value: string): string {
  if (!/[",\n\r]/.test(value) && value.trim() === value) return value;
  return `"${value.replace(/"/g, '""')}"`;
}
