import { Span } from '../semantics/spans';
import { isKnownParameterKey } from './parameters';
import { TemplateLines, findTemplateLines } from '../dynamic/templateLines';

/**
 * The parts of a `.prompt` file, as A1111's infotext has them: the positive prompt, an
 * optional `Negative prompt:` part, and an optional parameter line (`Steps: 20, Sampler: ...`)
 * as the last line.
 */
export interface PromptPart {
  kind: 'positive' | 'negative';
  /** `Negative prompt:` keyword, for the negative part. */
  header?: Span;
  /** The prompt text (for the negative part: after the keyword and its spaces). */
  content: Span;
}

export interface ParameterEntry {
  key: string;
  keySpan: Span;
  /** The value as written (quotes kept). */
  value: string;
  valueSpan: Span;
}

export interface ParameterLine {
  span: Span;
  entries: ParameterEntry[];
}

export interface FileSections {
  positive: PromptPart;
  negative?: PromptPart;
  parameters?: ParameterLine;
  /** sd-dynamic-prompts' `Template:` / `Negative Template:` lines after the parameter line. */
  templates?: TemplateLines;
}

const NEGATIVE_HEADER = 'Negative prompt:';
/** A1111's `re_param`: `Key: value` with an optional quoted value, comma separated. */
const RE_PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

export function parseSections(text: string): FileSections {
  const lines = lineSpans(text);
  // The parameter line: the last non-blank line, when it looks like `Steps: 20, Sampler: ...`.
  const templates = findTemplateLines(text, lines, isParameterLine);
  let last = (templates ? templates.firstLine : lines.length) - 1;
  while (last >= 0 && text.slice(lines[last].start, lines[last].end).trim() === '') last--;
  let parameters: ParameterLine | undefined;
  let promptEnd = text.length;
  if (last >= 0) {
    const line = lines[last];
    const lineText = text.slice(line.start, line.end);
    if (isParameterLine(lineText)) {
      parameters = { span: { start: line.start, end: line.end }, entries: parameterEntries(lineText, line.start) };
      promptEnd = last > 0 ? lines[last - 1].end : line.start;
    }
  }
  let negative: PromptPart | undefined;
  let positiveEnd = promptEnd;
  for (const line of lines) {
    if (line.start >= promptEnd) break;
    const indent = /^[ \t]*/.exec(text.slice(line.start, line.end))![0].length;
    if (text.startsWith(NEGATIVE_HEADER, line.start + indent)) {
      const headerStart = line.start + indent;
      const headerEnd = headerStart + NEGATIVE_HEADER.length;
      let contentStart = headerEnd;
      while (contentStart < promptEnd && (text[contentStart] === ' ' || text[contentStart] === '\t')) contentStart++;
      negative = {
        kind: 'negative',
        header: { start: headerStart, end: headerEnd },
        content: { start: contentStart, end: trimEnd(text, contentStart, promptEnd) },
      };
      positiveEnd = line.start;
      break;
    }
  }
  return {
    positive: { kind: 'positive', content: { start: 0, end: trimEnd(text, 0, positiveEnd) } },
    negative,
    parameters,
    ...(templates ? { templates } : {}),
  };
}

/**
 * Drops the one line break that ends a part (it separates parts, or ends the file); any
 * blank lines before it stay prompt text, as they are in the infotext A1111 wrote.
 */
function trimEnd(text: string, start: number, end: number): number {
  let e = end;
  if (e > start && text[e - 1] === '\n') e--;
  if (e > start && text[e - 1] === '\r') e--;
  return e;
}

/** Past this length a line is prompt text; it also keeps `re_param`'s backtracking off huge lines. */
const MAX_PARAMETER_LINE = 20_000;

function isParameterLine(line: string): boolean {
  const trimmed = line.trim();
  if (/^Steps\s*:/.test(trimmed)) return true;
  if (trimmed.length > MAX_PARAMETER_LINE) return false;
  // A1111's test (`parse_generation_parameters`) is three or more `Key: value` pairs; a prompt
  // line like `(a:1.2), (b:1.1), (c:0.9)` passes that too, so two keys must be A1111's own.
  const keys = [...trimmed.matchAll(new RegExp(RE_PARAM.source, 'g'))].map((m) => m[1]);
  return keys.length >= 3 && keys.filter(isKnownParameterKey).length >= 2;
}

function parameterEntries(line: string, lineStart: number): ParameterEntry[] {
  const entries: ParameterEntry[] = [];
  if (line.length > MAX_PARAMETER_LINE) return entries;
  RE_PARAM.lastIndex = 0;
  for (let m = RE_PARAM.exec(line); m; m = RE_PARAM.exec(line)) {
    if (m[0].length === 0) {
      RE_PARAM.lastIndex++;
      continue;
    }
    const keyStart = m.index + m[0].indexOf(m[1]);
    const afterKey = keyStart + m[1].length + 1;
    let valueStart = afterKey;
    while (line[valueStart] === ' ' || line[valueStart] === '\t') valueStart++;
    const rawValue = m[2];
    const value = rawValue.replace(/\s+$/, '');
    entries.push({
      key: m[1],
      keySpan: { start: lineStart + keyStart, end: lineStart + keyStart + m[1].length },
      value,
      valueSpan: { start: lineStart + valueStart, end: lineStart + valueStart + value.length },
    });
    if (RE_PARAM.lastIndex >= line.length) break;
  }
  return entries;
}

export function lineSpans(text: string): Span[] {
  const spans: Span[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') {
      spans.push({ start, end: i > start && text[i - 1] === '\r' ? i - 1 : i });
      start = i + 1;
    }
  }
  spans.push({ start, end: text.length });
  return spans;
}
