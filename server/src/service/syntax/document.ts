import { AttentionResult, parseAttention } from '../semantics/attention';
import { StrippedPrompt, stripComments } from '../semantics/comments';
import { ExtraNetworkTag, parseExtraNetworks } from '../semantics/extraNetworks';
import { Subprompt, splitAnd } from '../semantics/multicond';
import { Hole, ScheduleParse, parseSchedule } from '../semantics/schedule';
import { MappedText, Span } from '../semantics/spans';
import { FileSections, PromptPart, parseSections } from './sections';

/**
 * Everything the language service knows about one `.prompt` text, built in one pass in
 * A1111's order (comments → extra-network tags → AND → prompt editing → emphasis/BREAK).
 * Offsets are document offsets unless a field says otherwise. Building it never throws.
 */
export interface PromptDocument {
  text: string;
  sections: FileSections;
  positive: PromptAnalysis;
  negative?: PromptAnalysis;
  comments: Span[];
}

export interface PromptAnalysis {
  part: PromptPart;
  /** The part's text after A1111's comment stripping. */
  stripped: StrippedPrompt;
  /** Every `<type:...>` tag the A1111 regex finds (in the negative prompt too, though A1111 ignores them there). */
  tags: ExtraNetworkTag[];
  /** The text the rest of A1111's pipeline sees: tags removed (positive) or kept (negative). */
  prompt: MappedText;
  /** Offsets of `AND` keywords in `prompt.text`. */
  ands: number[];
  subprompts: SubpromptAnalysis[];
}

export interface SubpromptAnalysis {
  /** Offsets in `prompt.text`. */
  sub: Subprompt;
  /** Schedule parse of `sub.text`; offsets relative to `sub.start`. */
  schedule: ScheduleParse;
  /** Emphasis of `sub.text` with prompt-editing syntax masked out; offsets relative to `sub.start`. */
  attention: AttentionResult;
}

export function parsePromptDocument(text: string): PromptDocument {
  const sections = parseSections(text);
  const positive = analysePart(text, sections.positive, true);
  const negative = sections.negative ? analysePart(text, sections.negative, false) : undefined;
  const comments = [...positive.stripped.comments, ...(negative?.stripped.comments ?? [])];
  return { text, sections, positive, negative, comments };
}

export function analysePart(text: string, part: PromptPart, removeTags: boolean): PromptAnalysis {
  const source = MappedText.identity(text.slice(part.content.start, part.content.end), part.content.start);
  const stripped = stripComments(source);
  const networks = parseExtraNetworks(stripped.text);
  const prompt = removeTags ? networks.prompt : stripped.text;
  const split = splitAnd(prompt.text);
  const subprompts = split.subprompts.map((sub) => {
    const schedule = parseSchedule(sub.text);
    const attention = parseAttention(schedule.ok ? maskScheduleSyntax(sub.text, schedule.root.holes) : sub.text);
    return { sub, schedule, attention };
  });
  return { part, stripped, tags: networks.tags, prompt, ands: split.ands, subprompts };
}

/**
 * Blanks the brackets, colons, bars and step numbers of prompt editing so the emphasis
 * parse sees only the branches' text, as A1111 does after choosing a branch per step.
 */
const MASK = '\u0001';
function maskScheduleSyntax(text: string, holes: Hole[]): string {
  if (holes.length === 0) return text;
  const masked: number[] = [];
  const visit = (list: Hole[]) => {
    for (const hole of list) {
      masked.push(hole.start, hole.end - 1);
      if (hole.kind === 'scheduled') {
        if (hole.from) {
          masked.push(hole.from.end);
          visit(hole.from.holes);
        }
        // The colon after `to`, the step number and the spaces around it.
        for (let i = hole.to.end; i < hole.end - 1; i++) masked.push(i);
        visit(hole.to.holes);
      } else {
        // Each option ends at its `|` or the closing `]`; an empty option is its bar alone.
        let at = hole.start + 1;
        for (const option of hole.options) {
          if (option) {
            visit(option.holes);
            at = option.end;
          }
          masked.push(at);
          at++;
        }
      }
    }
  };
  visit(holes);
  masked.sort((a, b) => a - b);
  let out = '';
  let last = 0;
  for (const i of masked) {
    if (i < last || i >= text.length) continue;
    out += text.slice(last, i) + MASK;
    last = i + 1;
  }
  return out + text.slice(last);
}

/** Document span of a range given in a subprompt's own offsets. */
export function subSpan(analysis: PromptAnalysis, sub: Subprompt, start: number, end: number): Span {
  return analysis.prompt.spanToSource(sub.start + start, sub.start + end);
}
