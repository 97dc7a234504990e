import { parseSchedule } from '../../semantics/schedule';
import { PromptAnalysis, PromptDocument, subSpan } from '../../syntax/document';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';

/** Brackets, emphasis weights and BREAK, per AND part (each part is its own prompt to A1111). */
export function checkEmphasis(doc: PromptDocument, out: Problem[]): void {
  for (const part of [doc.positive, doc.negative]) if (part) checkPart(part, out);
}

function checkPart(part: PromptAnalysis, out: Problem[]): void {
  const andNote = part.subprompts.length > 1 ? ' of this AND part' : '';
  for (const { sub, attention, schedule } of part.subprompts) {
    const span = (s: number, e: number) => subSpan(part, sub, s, e);
    if (attention.error) {
      out.push({
        code: 'emphasis-weight-invalid',
        severity: 'error',
        span: span(attention.error.start, attention.error.end),
        message: `A1111 cannot read this emphasis weight as a number and the generation fails (${attention.error.message}).`,
      });
    }
    let unclosed = 0;
    for (const g of attention.groups) {
      if (g.close !== undefined) continue;
      if (++unclosed > MAX_PROBLEMS_PER_CODE) break;
      const bracket = g.kind === 'round' ? '(' : '[';
      const factor = g.kind === 'round' ? '×1.1' : '÷1.1';
      out.push({
        code: 'bracket-unclosed',
        severity: 'warning',
        span: span(g.open, g.open + 1),
        message: `'${bracket}' is never closed: A1111 closes it at the end${andNote}, so everything after it is weighted ${factor}.`,
        fixes: [{ title: `Escape it as literal text: '\\${bracket}'`, edits: [{ span: span(g.open, g.open + 1), newText: `\\${bracket}` }] }],
      });
    }
    for (const at of attention.strayClosers.slice(0, MAX_PROBLEMS_PER_CODE)) {
      const ch = sub.text[at];
      out.push({
        code: 'bracket-unmatched',
        severity: 'warning',
        span: span(at, at + 1),
        message: `'${ch}' closes nothing${andNote}: A1111 keeps it as literal text that reaches the model.`,
        fixes: [
          { title: `Escape it: '\\${ch}'`, edits: [{ span: span(at, at + 1), newText: `\\${ch}` }] },
          { title: `Remove '${ch}'`, edits: [{ span: span(at, at + 1), newText: '' }] },
        ],
      });
    }
    for (const seg of attention.segments) {
      if (!seg.isBreak || seg.weight === -1) continue;
      const keyword = sub.text.indexOf('BREAK', seg.start);
      out.push({
        code: 'break-in-brackets',
        severity: 'warning',
        span: span(keyword, keyword + 5),
        message: `BREAK inside brackets is not a chunk break: A1111 encodes the word "BREAK" with weight ${round(-seg.weight)}× negated instead. Move it outside the brackets.`,
      });
    }
    checkMalformedSchedules(sub.text, schedule.ok, attention.groups, span, out);
  }
}

function round(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

/**
 * `[...]` groups that contain a top-level `:` were meant as prompt editing, but the grammar
 * did not take them (`[a:b:c:3]`, `[a:]`, `[a:b:x]`): A1111 keeps them as ÷1.1 text.
 */
function checkMalformedSchedules(
  text: string,
  scheduleOk: boolean,
  groups: { kind: string; open: number; close?: number }[],
  span: (s: number, e: number) => { start: number; end: number },
  out: Problem[],
): void {
  for (const g of groups) {
    if (g.kind !== 'square' || g.close === undefined) continue;
    const inner = text.slice(g.open + 1, g.close);
    if (!/:/.test(inner) || /[[\]()]/.test(inner)) continue;
    // With scheduling off for the whole prompt, valid-looking groups are reported elsewhere.
    if (!scheduleOk && parseSchedule(text.slice(g.open, g.close + 1)).ok) continue;
    out.push({
      code: 'schedule-malformed',
      severity: 'warning',
      span: span(g.open, g.close + 1),
      message: `'[${inner}]' is not valid prompt editing ([from:to:when], [to:when] or [from::when] with a number for when): A1111 keeps it as literal text weighted ÷1.1.`,
    });
  }
}
