import { DocumentSymbol, FoldingRange, FoldingRangeKind, SymbolKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Span } from '../semantics/spans';
import { PromptAnalysis, PromptDocument } from '../syntax/document';

/** Outline: the prompt, the negative prompt and the parameters, with each tag under its part. */
export function documentSymbols(document: TextDocument, doc: PromptDocument): DocumentSymbol[] {
  const range = (s: Span) => ({ start: document.positionAt(s.start), end: document.positionAt(s.end) });
  const partSymbol = (name: string, part: PromptAnalysis, whole: Span): DocumentSymbol => ({
    name,
    kind: SymbolKind.String,
    range: range(whole),
    selectionRange: range(part.part.header ?? { start: whole.start, end: whole.start }),
    children: part.tags.map((tag) => ({
      name: `<${tag.type}:${tag.items[0]?.text ?? ''}>`,
      detail: tag.items.slice(1).map((i) => i.text).join(':'),
      kind: SymbolKind.Module,
      range: range(tag.span),
      selectionRange: range(tag.items[0]?.span ?? tag.span),
    })),
  });
  const symbols = [partSymbol('Prompt', doc.positive, doc.positive.part.content)];
  if (doc.negative) {
    const header = doc.negative.part.header!;
    symbols.push(partSymbol('Negative prompt', doc.negative, { start: header.start, end: doc.negative.part.content.end }));
  }
  const params = doc.sections.parameters;
  if (params) {
    symbols.push({
      name: 'Parameters',
      kind: SymbolKind.Object,
      range: range(params.span),
      selectionRange: range(params.span),
      children: params.entries.map((e) => ({
        name: e.key,
        detail: e.value,
        kind: SymbolKind.Property,
        range: range({ start: e.keySpan.start, end: e.valueSpan.end }),
        selectionRange: range(e.keySpan),
      })),
    });
  }
  return symbols;
}

/** Folding: each multi-line part, and runs of whole-line comments. */
export function foldingRanges(document: TextDocument, doc: PromptDocument): FoldingRange[] {
  const out: FoldingRange[] = [];
  const lineOf = (offset: number) => document.positionAt(offset).line;
  const add = (start: number, end: number, kind?: FoldingRangeKind) => {
    const a = lineOf(start);
    const b = lineOf(end);
    if (b > a) out.push({ startLine: a, endLine: b, kind });
  };
  add(doc.positive.part.content.start, doc.positive.part.content.end);
  if (doc.negative) add(doc.negative.part.header!.start, doc.negative.part.content.end);
  let runStart = -1;
  let runEnd = -1;
  for (const c of doc.comments) {
    const line = lineOf(c.start);
    const wholeLine = document.offsetAt({ line, character: 0 }) === c.start;
    if (wholeLine && runStart >= 0 && line === lineOf(runEnd) + 1) runEnd = c.end;
    else {
      if (runStart >= 0) add(runStart, runEnd, FoldingRangeKind.Comment);
      runStart = wholeLine ? c.start : -1;
      runEnd = c.end;
    }
  }
  if (runStart >= 0) add(runStart, runEnd, FoldingRangeKind.Comment);
  return out;
}
