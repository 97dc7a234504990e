import { Span } from '../semantics/spans';

/**
 * The `Template:` and `Negative Template:` lines sd-dynamic-prompts appends after the
 * parameter line of an image's infotext (its PngInfoSaver: `parameters + "\nTemplate: " +
 * prompt + "\nNegative Template: " + negative`, each only when not empty). The prompts above
 * them are what the templates gave for that image; the templates are what to expand again.
 */
export interface TemplateLines {
  /** Index of the first template line (the parameter line is the last non-blank line before it). */
  firstLine: number;
  /** From the start of the first template line to the end of the text. */
  span: Span;
  positive?: TemplatePart;
  negative?: TemplatePart;
}

export interface TemplatePart {
  header: Span;
  content: Span;
}

const POSITIVE = 'Template:';
const NEGATIVE = 'Negative Template:';

/** Finds the block, or undefined when the file has none after a parameter line. */
export function findTemplateLines(text: string, lines: Span[], isParameterLine: (line: string) => boolean): TemplateLines | undefined {
  let previous = -1;
  for (let i = 0; i < lines.length; i++) {
    const lineText = text.slice(lines[i].start, lines[i].end);
    const startsPositive = lineText.startsWith(POSITIVE);
    const startsNegative = lineText.startsWith(NEGATIVE);
    if ((startsPositive || startsNegative) && previous >= 0 && isParameterLine(text.slice(lines[previous].start, lines[previous].end))) {
      return block(text, lines, i, startsPositive);
    }
    if (lineText.trim() !== '') previous = i;
  }
  return undefined;
}

function block(text: string, lines: Span[], first: number, startsPositive: boolean): TemplateLines {
  let negativeLine = startsPositive ? -1 : first;
  if (startsPositive) {
    for (let i = first + 1; i < lines.length; i++) {
      if (text.startsWith(NEGATIVE, lines[i].start)) {
        negativeLine = i;
        break;
      }
    }
  }
  const part = (lineIndex: number, header: string, end: number): TemplatePart => {
    const headerStart = lines[lineIndex].start;
    const headerEnd = headerStart + header.length;
    let contentStart = headerEnd;
    while (contentStart < end && (text[contentStart] === ' ' || text[contentStart] === '\t')) contentStart++;
    return { header: { start: headerStart, end: headerEnd }, content: { start: contentStart, end: Math.max(contentStart, end) } };
  };
  const endOfText = trimLineBreak(text, text.length);
  const result: TemplateLines = { firstLine: first, span: { start: lines[first].start, end: text.length } };
  if (startsPositive) {
    const end = negativeLine >= 0 ? trimLineBreak(text, lines[negativeLine].start) : endOfText;
    result.positive = part(first, POSITIVE, end);
  }
  if (negativeLine >= 0) result.negative = part(negativeLine, NEGATIVE, endOfText);
  return result;
}

function trimLineBreak(text: string, end: number): number {
  let e = end;
  if (text[e - 1] === '\n') e--;
  if (text[e - 1] === '\r') e--;
  return e;
}
