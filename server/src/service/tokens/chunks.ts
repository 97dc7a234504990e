import { AttentionSegment } from '../semantics/attention';
import { PromptTokenizer } from './tokenizer';

/**
 * A1111's `tokenize_line` (sd_hijack_clip.py): emphasis segments tokenized one by one, chunks
 * of 75 tokens (plus BOS/EOS = 77), BREAK closes a chunk, and when a chunk fills up with a comma
 * among its last 20 tokens, the tokens after that comma move on to the next chunk. Textual-
 * inversion embeddings take their vector count and are never split. Offsets are kept so the
 * editor can show where each chunk starts.
 */
export const CHUNK_LENGTH = 75;
/** A1111's `comma_padding_backtrack` default. */
export const COMMA_BACKTRACK = 20;

export interface PromptToken {
  id: number;
  weight: number;
  /** Input range of the word the token came from (all tokens of a word share it). */
  start: number;
  end: number;
  /** Set on the first token of a textual-inversion embedding: its name. */
  embedding?: string;
}

export interface PromptChunk {
  tokens: PromptToken[];
}

export interface ChunkedPrompt {
  chunks: PromptChunk[];
  /** A1111's token count: 75 for each closed chunk, the real tokens of the last one. */
  count: number;
}

/** Embeddings by the token ids of their names (A1111's `ids_lookup`). */
export interface EmbeddingLookup {
  /** Candidates starting with this id, longest first. */
  get(firstId: number): { ids: number[]; vectors: number; name: string }[] | undefined;
}

/** A1111's merged attention pairs, with per-character input offsets. */
export interface WeightedText {
  text: string;
  weight: number;
  /** Input offset of each character of `text`. */
  offsets: Int32Array;
  isBreak: boolean;
}

/**
 * `parse_prompt_attention`'s result as A1111 hands it to the tokenizer (runs of equal weight
 * merged), keeping where each character came from.
 */
export function weightedTexts(segments: AttentionSegment[]): WeightedText[] {
  const out: { parts: AttentionSegment[]; weight: number }[] = [];
  for (const seg of segments) {
    const last = out[out.length - 1];
    if (last && last.weight === seg.weight) last.parts.push(seg);
    else out.push({ parts: [seg], weight: seg.weight });
  }
  if (out.length === 0) return [{ text: '', weight: 1, offsets: new Int32Array(0), isBreak: false }];
  return out.map(({ parts, weight }) => {
    const text = parts.map((p) => p.text).join('');
    const offsets = new Int32Array(text.length);
    let o = 0;
    for (const p of parts) {
      // A segment's text is its input range, except escapes (`\(` gives "(") and BREAK markers,
      // whose keyword sits among the spaces the marker spans.
      const first = p.textStart ?? p.start;
      for (let i = 0; i < p.text.length; i++) offsets[o++] = first + i;
    }
    // A1111 tests exactly this: a merged pair whose text is BREAK with weight -1.
    return { text, weight, offsets, isBreak: text === 'BREAK' && weight === -1 };
  });
}

export function chunkPrompt(texts: WeightedText[], tokenizer: PromptTokenizer, embeddings?: EmbeddingLookup): ChunkedPrompt {
  const chunks: PromptChunk[] = [];
  let chunk: PromptToken[] = [];
  let count = 0;
  let lastComma = -1;
  const nextChunk = (isLast = false) => {
    count += isLast ? chunk.length : CHUNK_LENGTH;
    lastComma = -1;
    chunks.push({ tokens: chunk });
    chunk = [];
  };
  const commaId = tokenizer.commaId;
  // A long prompt has one token per few characters: this loop runs for each, so it reads the
  // offset pairs by index (no destructuring) and pushes one object per token, nothing else.
  for (const piece of texts) {
    if (piece.isBreak) {
      nextChunk();
      continue;
    }
    const { ids, offsets } = tokenizer.encodeWithOffsets(piece.text);
    const inputOffsets = piece.offsets;
    const lastInput = inputOffsets.length - 1;
    const at = (i: number) => (lastInput >= 0 ? inputOffsets[i < lastInput ? i : lastInput] : 0);
    const weight = piece.weight;
    let position = 0;
    while (position < ids.length) {
      const id = ids[position];
      const range = offsets[position];
      const isComma = commaId >= 0 ? id === commaId : piece.text.slice(range[0], range[1]) === ',';
      if (isComma) {
        lastComma = chunk.length;
      } else if (chunk.length === CHUNK_LENGTH && lastComma !== -1 && chunk.length - lastComma <= COMMA_BACKTRACK) {
        const moved = chunk.splice(lastComma + 1);
        nextChunk();
        chunk = moved;
      }
      if (chunk.length === CHUNK_LENGTH) nextChunk();
      const candidates = embeddings === undefined ? undefined : embeddings.get(id);
      const embedding = candidates?.find((c) => c.ids.every((x, k) => ids[position + k] === x));
      if (!embedding) {
        chunk.push({ id, weight, start: at(range[0]), end: at(range[1] - 1) + 1 });
        position++;
        continue;
      }
      if (chunk.length + embedding.vectors > CHUNK_LENGTH) nextChunk();
      const es = offsets[position][0];
      const ee = offsets[position + embedding.ids.length - 1][1];
      for (let k = 0; k < embedding.vectors; k++) {
        chunk.push({ id: 0, weight, start: at(es), end: at(ee - 1) + 1, embedding: k === 0 ? embedding.name : undefined });
      }
      position += embedding.ids.length;
    }
  }
  if (chunk.length || chunks.length === 0) nextChunk(true);
  return { chunks, count };
}

/** The webui counter's target: whole chunks, at least one. */
export function targetOf(count: number): number {
  return Math.ceil(Math.max(count, 1) / CHUNK_LENGTH) * CHUNK_LENGTH;
}
