import { parseSchedule, PromptRange, scheduleOverflow, switchStep } from '../../semantics/schedule';
import { PromptAnalysis, PromptDocument, subSpan } from '../../syntax/document';
import { Problem } from './problem';

/** Prompt editing that does nothing, or that makes A1111 drop all prompt editing. */
export function checkSchedules(doc: PromptDocument, steps: number, out: Problem[]): void {
  for (const part of [doc.positive, doc.negative]) if (part) checkPart(part, steps, out);
}

function checkPart(part: PromptAnalysis, steps: number, out: Problem[]): void {
  for (const { sub, schedule } of part.subprompts) {
    const span = (s: number, e: number) => subSpan(part, sub, s, e);
    if (!schedule.ok) {
      const { offset, reason } = schedule.failure;
      if (!wouldSchedule(sub.text, offset)) continue;
      const what =
        reason === 'pipe'
          ? "This '|' is outside any [a|b] alternation"
          : reason === 'backslash'
            ? 'This backslash escapes nothing (it ends the line or the prompt)'
            : 'Brackets are nested too deeply here';
      out.push({
        code: 'schedule-disabled',
        severity: 'warning',
        span: span(offset, offset + 1),
        message: `${what}: A1111 then cannot parse prompt editing in this prompt and silently keeps every [from:to:when] and [a|b] as literal text.`,
        fixes:
          reason === 'depth'
            ? undefined
            : [{ title: reason === 'pipe' ? "Remove the '|'" : 'Remove the backslash', edits: [{ span: span(offset, offset + 1), newText: '' }] }],
      });
      continue;
    }
    const overflow = scheduleOverflow(schedule);
    if (overflow) {
      out.push({
        code: 'schedule-overflow',
        severity: 'error',
        span: span(overflow.numberStart, overflow.numberStart + overflow.number.length),
        message: `'${overflow.number}' is too large to be a step: A1111 fails with "OverflowError: cannot convert float infinity to integer" and the generation stops.`,
      });
      continue;
    }
    const visit = (range: PromptRange | undefined) => {
      if (!range) return;
      for (const hole of range.holes) {
        if (hole.kind === 'alternate') {
          hole.options.forEach(visit);
          continue;
        }
        const when = switchStep(hole.number, { baseSteps: steps });
        const toText = sub.text.slice(hole.to.start, hole.to.end);
        const whole = span(hole.start, hole.end);
        if (!hole.from && when >= steps) {
          const asWeight = /\./.test(hole.number) && Number(hole.number) >= 1;
          out.push({
            code: asWeight ? 'schedule-weight-confusion' : 'schedule-never-switches',
            severity: asWeight ? 'warning' : 'information',
            span: whole,
            message: asWeight
              ? `'[${toText}:${hole.number}]' is prompt editing, not a weight: '${toText}' would be added after step ${when} of ${steps}, so it never appears. For a weight write '(${toText}:${hole.number})'.`
              : `'${toText}' is added after step ${when} of ${steps}: it never appears.`,
            fixes: asWeight
              ? [{ title: `Make it a weight: (${toText}:${hole.number})`, edits: [{ span: whole, newText: `(${toText}:${hole.number})` }], preferred: true }]
              : undefined,
          });
        } else if (hole.from && when >= steps) {
          out.push({
            code: 'schedule-never-switches',
            severity: 'information',
            span: whole,
            message: `This edit switches after step ${when} of ${steps}: '${toText}' never appears.`,
          });
        } else if (when < 1 && hole.from) {
          out.push({
            code: 'schedule-never-switches',
            severity: 'information',
            span: whole,
            message: `This edit switches before the first step: '${sub.text.slice(hole.from.start, hole.from.end)}' never appears.`,
          });
        }
        visit(hole.from);
        visit(hole.to);
      }
    };
    visit(schedule.root);
  }
}

/** Whether the text would contain prompt editing if the character that broke the parse were gone. */
function wouldSchedule(text: string, offset: number): boolean {
  let candidate = text.slice(0, offset) + ' ' + text.slice(offset + 1);
  for (let tries = 0; tries < 8; tries++) {
    const parse = parseSchedule(candidate);
    if (parse.ok) return parse.root.holes.length > 0;
    const at = parse.failure.offset;
    candidate = candidate.slice(0, at) + ' ' + candidate.slice(at + 1);
  }
  return false;
}
