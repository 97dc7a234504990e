import { AttentionSegment, BracketEvent } from '../semantics/attention';
import { ExtraNetworkTag } from '../semantics/extraNetworks';
import { Hole, PromptRange } from '../semantics/schedule';
import { Span } from '../semantics/spans';
import { PromptAnalysis, PromptDocument, SubpromptAnalysis, subSpan } from '../syntax/document';

/** What sits at a document offset, for hover and other position-based features. */
export interface Located {
  part: PromptAnalysis;
  tag?: ExtraNetworkTag;
  subprompt?: SubpromptAnalysis;
  segment?: AttentionSegment & { span: Span };
  /** Innermost first. */
  groups: (BracketEvent & { span: Span })[];
  holes: (Hole & { span: Span })[];
  and?: Span;
}

export function locate(doc: PromptDocument, offset: number): Located | undefined {
  const part = [doc.positive, doc.negative].find((p) => p && offset >= p.part.content.start && offset <= p.part.content.end);
  if (!part) return undefined;
  const located: Located = { part, groups: [], holes: [] };
  located.tag = part.tags.find((t) => offset >= t.span.start && offset < t.span.end);
  if (located.tag && part.part.kind === 'positive') return located;
  for (const at of part.ands) {
    const span = part.prompt.spanToSource(at, at + 3);
    if (offset >= span.start && offset < span.end) located.and = span;
  }
  for (const sp of part.subprompts) {
    const { sub } = sp;
    const whole = subSpan(part, sp.sub, 0, sub.text.length);
    if (offset < whole.start || offset > whole.end) continue;
    located.subprompt = sp;
    for (const seg of sp.attention.segments) {
      const span = subSpan(part, sub, seg.start, seg.end);
      if (offset >= span.start && offset < span.end) located.segment = { ...seg, span };
    }
    for (const g of sp.attention.groups) {
      const end = g.closeEnd ?? sub.text.length;
      const span = subSpan(part, sub, g.open, end);
      if (offset >= span.start && offset < span.end) located.groups.unshift({ ...g, span });
    }
    if (sp.schedule.ok) {
      const visit = (range: PromptRange | undefined) => {
        if (!range) return;
        for (const hole of range.holes) {
          const span = subSpan(part, sub, hole.start, hole.end);
          if (offset < span.start || offset >= span.end) continue;
          located.holes.unshift({ ...hole, span });
          if (hole.kind === 'scheduled') {
            visit(hole.from);
            visit(hole.to);
          } else hole.options.forEach(visit);
        }
      };
      visit(sp.schedule.root);
    }
    break;
  }
  return located;
}
