import { PromptTokenizer } from '../service/tokens/tokenizer';
import { countTokens } from '../service/tokens/tokenCount';
import { CHUNK_LENGTH, targetOf } from '../service/tokens/chunks';
import { PromptDocument } from '../service/syntax/document';

/**
 * `sd-prompt tokens` output: `{ids, count, target, chunks: [{start, end, tokens}], approximate}`.
 * `ids` are what A1111 feeds CLIP for the positive prompt (comments and tags removed, emphasis
 * and BREAK applied; no BOS/EOS or padding); each chunk gives its character range in the input
 * and how many tokens it holds. With `raw`, the text is tokenized as CLIP's own tokenizer would.
 */
export interface TokensReport {
  ids: number[];
  count: number;
  target: number;
  chunks: { start: number; end: number; tokens: number }[];
  approximate: boolean;
}

export function tokensReport(doc: PromptDocument, tokenizer: PromptTokenizer, steps: number): TokensReport {
  const section = countTokens(doc, 'positive', tokenizer, { baseSteps: steps })!;
  return {
    ids: section.chunks.flatMap((c) => c.tokens.map((t) => t.id)),
    count: section.count,
    target: section.target,
    chunks: section.chunks.map((c) => ({ start: c.start, end: c.end, tokens: c.tokens.length })),
    approximate: section.approximate,
  };
}

export function rawTokensReport(text: string, tokenizer: PromptTokenizer): TokensReport {
  const { ids, offsets } = tokenizer.encodeWithOffsets(text);
  const chunks: TokensReport['chunks'] = [];
  for (let i = 0; i < ids.length; i += CHUNK_LENGTH) {
    const last = Math.min(i + CHUNK_LENGTH, ids.length) - 1;
    chunks.push({ start: offsets[i][0], end: offsets[last][1], tokens: last - i + 1 });
  }
  return { ids, count: ids.length, target: targetOf(ids.length), chunks, approximate: tokenizer.approximate };
}

/** The human-readable form: the counter, then each chunk's range and text. */
export function formatTokensReport(report: TokensReport, text: string): string {
  const lines = [`${report.approximate ? '≈' : ''}${report.count}/${report.target} tokens${report.approximate ? ' (approximate: no tokenizer files found)' : ''}`];
  report.chunks.forEach((c, i) => {
    const excerpt = text.slice(c.start, c.end).replace(/\s+/g, ' ');
    lines.push(`chunk ${i + 1}: ${c.tokens} tokens, characters ${c.start}-${c.end}: ${excerpt.length > 70 ? excerpt.slice(0, 67) + '...' : excerpt}`);
  });
  return lines.join('\n') + '\n';
}
