import { PromptAnalysis, PromptDocument } from '../../syntax/document';
import { Problem } from './problem';

/**
 * `and`/`break` in the wrong case where the keyword was likely meant. Only a comma- or
 * line-separated item that is just the word counts: "cats and dogs" is English, but
 * `1girl, break, night sky` is a BREAK that A1111 reads as the word "break".
 */
const ALONE = /(^|[,\n])([ \t]*)(and|break)([ \t]*)(?=[,\n]|$)/giu;

export function checkKeywords(doc: PromptDocument, out: Problem[]): void {
  for (const part of [doc.positive, doc.negative]) if (part) checkPart(part, out);
}

function checkPart(part: PromptAnalysis, out: Problem[]): void {
  const text = part.prompt.text;
  for (const m of text.matchAll(ALONE)) {
    const word = m[3];
    const upper = word.toUpperCase();
    if (word === upper) continue;
    const at = m.index! + m[1].length + m[2].length;
    const span = part.prompt.spanToSource(at, at + word.length);
    const meaning =
      upper === 'BREAK'
        ? 'A1111 only starts a new 75-token chunk for BREAK in capitals; this is tokenized as the word "break"'
        : 'A1111 only splits composable prompts on AND in capitals; this is tokenized as the word "and"';
    out.push({
      code: 'keyword-case',
      severity: 'information',
      span,
      message: `${meaning}.`,
      fixes: [{ title: `Change to '${upper}'`, edits: [{ span, newText: upper }], preferred: true }],
    });
  }
}
