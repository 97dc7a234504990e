import { quoteValue, unquoteValue } from '../imageData/infotext';
import { parseSections } from '../syntax/sections';

/**
 * A `.prompt` text taken apart into what an X/Y/Z cell changes (prompt, negative prompt, parameter line,
 * sd-dynamic-prompts' `Template:` lines) and put back together, read with the editor's own section parser so
 * that the cell's text means to the renderer what the grid meant.
 */
export interface PromptFileParts {
  positive: string;
  /** Absent: the file has no `Negative prompt:` part. */
  negative?: string;
  /** The parameter line's entries in order; values as written (quotes kept). */
  parameters: { key: string; value: string }[];
  /** The `Template:` / `Negative Template:` lines' texts, when the file has them. */
  template?: string;
  negativeTemplate?: string;
}

export function readPromptFile(text: string): PromptFileParts {
  const sections = parseSections(text);
  const slice = (span: { start: number; end: number }) => text.slice(span.start, span.end);
  const parts: PromptFileParts = {
    positive: slice(sections.positive.content),
    parameters: (sections.parameters?.entries ?? []).map((e) => ({ key: e.key, value: e.value })),
  };
  if (sections.negative) parts.negative = slice(sections.negative.content);
  if (sections.templates?.positive) parts.template = slice(sections.templates.positive.content);
  if (sections.templates?.negative) parts.negativeTemplate = slice(sections.templates.negative.content);
  return parts;
}

/** A1111's default steps: a parameter line needs `Steps:` (or three known keys) to be read as one. */
const DEFAULT_STEPS = '20';

export function writePromptFile(parts: PromptFileParts): string {
  const lines = [parts.positive];
  if (parts.negative !== undefined) lines.push(`Negative prompt: ${parts.negative}`);
  let parameters = parts.parameters;
  if (parameters.length > 0 && !readsAsParameterLine(parameterLine(parameters))) parameters = [{ key: 'Steps', value: DEFAULT_STEPS }, ...parameters];
  if (parameters.length > 0) lines.push(parameterLine(parameters));
  // sd-dynamic-prompts' PngInfoSaver: each template line only when it is not empty, and only after a parameter line.
  if (parameters.length > 0) {
    if (parts.template) lines.push(`Template: ${parts.template}`);
    if (parts.negativeTemplate) lines.push(`Negative Template: ${parts.negativeTemplate}`);
  }
  return lines.join('\n');
}

function parameterLine(parameters: { key: string; value: string }[]): string {
  return parameters.map((p) => `${p.key}: ${p.value}`).join(', ');
}

function readsAsParameterLine(line: string): boolean {
  return parseSections(`x\n${line}`).parameters !== undefined;
}

/**
 * Where A1111's create_infotext puts these keys, so a key a cell adds lands where A1111 would write it
 * (after the last key that comes before it in this order).
 */
const A1111_ORDER = [
  'Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model hash', 'Model', 'VAE hash', 'VAE',
  'Variation seed', 'Variation seed strength', 'Seed resize from', 'Denoising strength', 'Clip skip',
];

/** Sets `key` (replacing its value where it is, else adding it in A1111's place); the value is quoted as A1111 quotes. */
export function setParameter(parts: PromptFileParts, key: string, value: string): void {
  const written = quoteValue(value);
  const existing = parts.parameters.find((p) => p.key === key);
  if (existing) {
    existing.value = written;
    return;
  }
  const rank = A1111_ORDER.indexOf(key);
  let at = parts.parameters.length;
  if (rank >= 0) {
    at = 0;
    parts.parameters.forEach((p, i) => {
      const r = A1111_ORDER.indexOf(p.key);
      if (r >= 0 && r < rank) at = i + 1;
    });
  }
  parts.parameters.splice(at, 0, { key, value: written });
}

export function removeParameter(parts: PromptFileParts, key: string): void {
  parts.parameters = parts.parameters.filter((p) => p.key !== key);
}

export function parameterValue(parts: PromptFileParts, key: string): string | undefined {
  const entry = parts.parameters.find((p) => p.key === key);
  if (!entry) return undefined;
  return unquoteValue(entry.value);
}

export function cloneParts(parts: PromptFileParts): PromptFileParts {
  return { ...parts, parameters: parts.parameters.map((p) => ({ ...p })) };
}
