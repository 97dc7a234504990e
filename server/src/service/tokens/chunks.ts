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
  const state: ChunkingState = { chunks: [], chunk: [], count: 0, lastComma: -1 };
  const commaId = tokenizer.commaId;
  // A long prompt has one token per few characters: this loop runs for each, so it reads the
  // offset pairs by index (no destructuring), pushes one object per token and calls no closure
  // made per call (V8 threw its optimized code away each time a new one came).
  for (const piece of texts) {
    if (piece.isBreak) {
      closeChunk(state, false);
      continue;
    }
    const { ids, offsets } = tokenizer.encodeWithOffsets(piece.text);
    const inputOffsets = piece.offsets;
    const lastInput = inputOffsets.length - 1;
    const weight = piece.weight;
    let position = 0;
    while (position < ids.length) {
      const id = ids[position];
      const range = offsets[position];
      const isComma = commaId >= 0 ? id === commaId : piece.text.slice(range[0], range[1]) === ',';
      if (isComma) {
        state.lastComma = state.chunk.length;
      } else if (state.chunk.length === CHUNK_LENGTH && state.lastComma !== -1 && state.chunk.length - state.lastComma <= COMMA_BACKTRACK) {
        const moved = state.chunk.splice(state.lastComma + 1);
        closeChunk(state, false);
        state.chunk = moved;
      }
      if (state.chunk.length === CHUNK_LENGTH) closeChunk(state, false);
      const candidates = embeddings === undefined ? undefined : embeddings.get(id);
      const embedding = candidates === undefined ? undefined : candidates.find((c) => c.ids.every((x, k) => ids[position + k] === x));
      if (!embedding) {
        state.chunk.push({ id, weight, start: inputOffset(inputOffsets, lastInput, range[0]), end: inputOffset(inputOffsets, lastInput, range[1] - 1) + 1 });
        position++;
        continue;
      }
      if (state.chunk.length + embedding.vectors > CHUNK_LENGTH) closeChunk(state, false);
      const start = inputOffset(inputOffsets, lastInput, offsets[position][0]);
      const end = inputOffset(inputOffsets, lastInput, offsets[position + embedding.ids.length - 1][1] - 1) + 1;
      for (let k = 0; k < embedding.vectors; k++) {
        state.chunk.push({ id: 0, weight, start, end, embedding: k === 0 ? embedding.name : undefined });
      }
      position += embedding.ids.length;
    }
  }
  if (state.chunk.length || state.chunks.length === 0) closeChunk(state, true);
  return { chunks: state.chunks, count: state.count };
}

interface ChunkingState {
  chunks: PromptChunk[];
  chunk: PromptToken[];
  count: number;
  lastComma: number;
}

/** Ends the chunk being filled: a closed chunk counts 75 (A1111 pads it), the last its own tokens. */
function closeChunk(state: ChunkingState, isLast: boolean): void {
  state.count += isLast ? state.chunk.length : CHUNK_LENGTH;
  state.lastComma = -1;
  state.chunks.push({ tokens: state.chunk });
  state.chunk = [];
}

/** The input offset of character `i` of a weighted text (its last character's past the end; 0 for an empty one). */
function inputOffset(offsets: Int32Array, last: number, i: number): number {
  return last >= 0 ? offsets[i < last ? i : last] : 0;
}

/** The webui counter's target: whole chunks, at least one. */
export function targetOf(count: number): number {
  return Math.ceil(Math.max(count, 1) / CHUNK_LENGTH) * CHUNK_LENGTH;
}
