import { InlayHint, InlayHintKind, MarkupKind, Range } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PromptDocument } from '../syntax/document';
import { CHUNK_LENGTH } from '../tokens/chunks';
import { SectionTokens } from '../tokens/tokenCount';
import { PromptTokenizer } from '../tokens/tokenizer';

/** What the status bar shows for the part of the file under the cursor. */
export interface TokenCountSummary {
  section: 'positive' | 'negative';
  count: number;
  target: number;
  approximate: boolean;
  /** `85/150`, or `≈85/150` when no tokenizer files were found. */
  text: string;
}

export function summary(tokens: SectionTokens): TokenCountSummary {
  return {
    section: tokens.kind,
    count: tokens.count,
    target: tokens.target,
    approximate: tokens.approximate,
    text: `${tokens.approximate ? '≈' : ''}${tokens.count}/${tokens.target}`,
  };
}

/** The part of the file an offset is in (the parameter line counts as neither). */
export function sectionAt(doc: PromptDocument, offset: number): 'positive' | 'negative' | undefined {
  const neg = doc.sections.negative;
  if (neg && offset >= neg.header!.start && offset <= neg.content.end) return 'negative';
  const params = doc.sections.parameters;
  if (params && offset >= params.span.start) return undefined;
  return 'positive';
}

/** A mark where each chunk after the first starts: A1111 encodes the text after it separately. */
export function chunkInlayHints(document: TextDocument, sections: SectionTokens[], range?: Range): InlayHint[] {
  const hints: InlayHint[] = [];
  const from = range ? document.offsetAt(range.start) : 0;
  const to = range ? document.offsetAt(range.end) : Number.MAX_SAFE_INTEGER;
  for (const section of sections) {
    section.chunks.forEach((chunk, i) => {
      if (i === 0 || chunk.tokens.length === 0 || chunk.start < from || chunk.start > to) return;
      const first = i * CHUNK_LENGTH + 1;
      hints.push({
        position: document.positionAt(chunk.start),
        label: `${section.approximate ? '≈' : ''}│${i + 1}`,
        kind: InlayHintKind.Parameter,
        paddingRight: true,
        tooltip: {
          kind: MarkupKind.Markdown,
          value: `A1111 starts chunk ${i + 1} here (tokens ${first}–${first + CHUNK_LENGTH - 1}): the text from here on is encoded separately from what comes before.`,
        },
      });
    });
  }
  return hints;
}

/** Hover text for the tokens of the word at `offset`, or undefined when none is there. */
export function tokensAt(sections: SectionTokens[], offset: number, tokenizer: PromptTokenizer): string | undefined {
  for (const section of sections) {
    for (const [c, chunk] of section.chunks.entries()) {
      const hit = chunk.tokens.findIndex((t) => offset >= t.start && offset < t.end);
      if (hit === -1) continue;
      const word = chunk.tokens.filter((t) => t.start === chunk.tokens[hit].start && t.end === chunk.tokens[hit].end);
      const index = chunk.tokens.indexOf(word[0]);
      const shown = word.map((t) => (t.embedding !== undefined || t.id === 0 ? 'embedding vector' : `\`${tokenizer.decode([t.id]).trim()}\``));
      const ids = tokenizer.approximate ? '' : ` (ids ${word.map((t) => t.id).join(', ')})`;
      const where = `chunk ${c + 1}, token${word.length > 1 ? 's' : ''} ${index + 1}${word.length > 1 ? `–${index + word.length}` : ''} of ${CHUNK_LENGTH}`;
      return `**${section.approximate ? '≈' : ''}${word.length} token${word.length > 1 ? 's' : ''}**: ${shown.join(' ')}${ids} · ${where}`;
    }
  }
  return undefined;
}
