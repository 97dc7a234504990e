import { parseSections } from '../syntax/sections';
import { GenerationParts } from './types';

/**
 * A1111's infotext both ways: `formatPromptFile` writes parts as A1111's
 * `create_infotext` does (values quoted by its `quote()` when they hold `,` `:` or a newline),
 * `splitA1111Text` reads one back with the `.prompt` section parser the editor uses.
 */
export function quoteValue(value: string): string {
  if (!value.includes(',') && !value.includes('\n') && !value.includes(':')) return value;
  return JSON.stringify(value);
}

export function unquoteValue(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return v.slice(1, -1);
    }
  }
  return v;
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1e6) / 1e6);
}

/** Keeps a note on one comment line: a newline in it would end the comment and leak text into the prompt. */
function commentLine(note: string): string {
  return '# ' + note.replace(/\s*\r?\n\s*/g, ' ');
}

export function formatPromptFile(parts: GenerationParts): { text: string; parameters: Record<string, string> } {
  const parameters: Record<string, string> = {};
  for (const [key, value] of parts.parameters) {
    if (value === undefined || value === '') continue;
    parameters[key] = typeof value === 'number' ? formatNumber(value) : value;
  }
  const lines = parts.notes.map(commentLine);
  lines.push(parts.prompt);
  if (parts.negativePrompt) lines.push('Negative prompt: ' + parts.negativePrompt);
  const parameterLine = Object.entries(parameters)
    .map(([k, v]) => `${k}: ${quoteValue(v)}`)
    .join(', ');
  if (parameterLine) lines.push(parameterLine);
  return { text: lines.join('\n'), parameters };
}

export function splitA1111Text(text: string): { prompt: string; negativePrompt: string; parameters: Record<string, string> } {
  const normalized = text.replace(/\r\n?/g, '\n');
  const sections = parseSections(normalized);
  const prompt = normalized.slice(sections.positive.content.start, sections.positive.content.end);
  const negativePrompt = sections.negative ? normalized.slice(sections.negative.content.start, sections.negative.content.end) : '';
  const parameters: Record<string, string> = {};
  for (const entry of sections.parameters?.entries ?? []) parameters[entry.key] = unquoteValue(entry.value);
  return { prompt, negativePrompt, parameters };
}
