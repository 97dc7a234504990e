import { TextDocument } from 'vscode-languageserver-textdocument';
import { KNOWN_NETWORK_TYPES } from '../semantics/extraNetworks';
import { pyFloat } from '../semantics/pyNumbers';
import { PromptRange } from '../semantics/schedule';
import { Span } from '../semantics/spans';
import { PromptDocument, subSpan } from '../syntax/document';

/**
 * Semantic tokens for what the TextMate grammar cannot know: which AND/BREAK A1111 really
 * treats as keywords, which tags it acts on, prompt-editing step numbers the grammar missed
 * across lines, and text A1111 drops (comments, tags it ignores).
 */
export const SEMANTIC_TOKEN_TYPES = ['keyword', 'function', 'type', 'parameter', 'number', 'comment', 'operator'] as const;
export const SEMANTIC_TOKEN_MODIFIERS = ['deprecated'] as const;
type TokenType = (typeof SEMANTIC_TOKEN_TYPES)[number];

export function semanticTokens(document: TextDocument, doc: PromptDocument): number[] {
  const tokens: { span: Span; type: TokenType; modifiers: number }[] = [];
  const add = (span: Span, type: TokenType, modifiers = 0) => {
    if (span.end > span.start) tokens.push({ span, type, modifiers });
  };
  for (const c of doc.comments) add(c, 'comment');
  for (const part of [doc.positive, doc.negative]) {
    if (!part) continue;
    const active = part.part.kind === 'positive';
    for (const tag of part.tags) {
      const known = (KNOWN_NETWORK_TYPES as readonly string[]).includes(tag.type);
      // A tag A1111 ignores (unknown type, or in the negative prompt) is marked deprecated.
      const ignored = !known || !active ? 1 : 0;
      add(tag.typeSpan, 'type', ignored);
      tag.items.forEach((item, i) => {
        if (item.key !== undefined) {
          add(item.keySpan!, 'parameter', ignored);
          if (pyFloat(item.value!) !== undefined) add(item.valueSpan!, 'number', ignored);
        } else if (i === 0) add(item.span, 'function', ignored);
        else if (pyFloat(item.text) !== undefined) add(item.span, 'number', ignored);
      });
    }
    for (const at of part.ands) add(part.prompt.spanToSource(at, at + 3), 'keyword');
    for (const sp of part.subprompts) {
      for (const seg of sp.attention.segments) {
        if (!seg.isBreak) continue;
        const k = sp.sub.text.indexOf('BREAK', seg.start);
        add(subSpan(part, sp.sub, k, k + 5), 'keyword', seg.weight === -1 ? 0 : 1);
      }
      for (const g of sp.attention.groups) {
        if (g.weightText === undefined || g.close === undefined) continue;
        const token = sp.sub.text.slice(g.close, g.closeEnd);
        const w = g.close + token.indexOf(g.weightText);
        add(subSpan(part, sp.sub, w, w + g.weightText.length), 'number');
      }
      if (sp.schedule.ok) {
        const visit = (range: PromptRange | undefined) => {
          for (const hole of range?.holes ?? []) {
            if (hole.kind === 'scheduled') {
              add(subSpan(part, sp.sub, hole.numberStart, hole.numberStart + hole.number.length), 'number');
              visit(hole.from);
              visit(hole.to);
            } else hole.options.forEach(visit);
          }
        };
        visit(sp.schedule.root);
      }
    }
  }
  tokens.sort((a, b) => a.span.start - b.span.start);
  // LSP's relative encoding; tokens may not span lines, so multi-line ones are cut per line.
  const data: number[] = [];
  let prevLine = 0;
  let prevChar = 0;
  let lastEnd = -1;
  for (const t of tokens) {
    if (t.span.start < lastEnd) continue;
    lastEnd = t.span.end;
    const typeIndex = SEMANTIC_TOKEN_TYPES.indexOf(t.type);
    let start = t.span.start;
    while (start < t.span.end) {
      const pos = document.positionAt(start);
      const lineEndOffset = document.offsetAt({ line: pos.line + 1, character: 0 });
      const nl = doc.text.indexOf('\n', start);
      const end = Math.min(t.span.end, nl === -1 ? t.span.end : nl, lineEndOffset);
      if (end > start) {
        data.push(pos.line - prevLine, pos.line === prevLine ? pos.character - prevChar : pos.character, end - start, typeIndex, t.modifiers);
        prevLine = pos.line;
        prevChar = pos.character;
      }
      start = nl === -1 || nl >= t.span.end ? t.span.end : nl + 1;
    }
  }
  return data;
}
