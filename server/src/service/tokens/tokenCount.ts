import { parseAttention } from '../semantics/attention';
import { parseExtraNetworks } from '../semantics/extraNetworks';
import { ScheduleOptions, parseSchedule, scheduleVariants, variantOffset } from '../semantics/schedule';
import { MappedText } from '../semantics/spans';
import { PromptAnalysis, PromptDocument } from '../syntax/document';
import { chunkPrompt, EmbeddingLookup, PromptToken, targetOf, weightedTexts } from './chunks';
import { PromptTokenizer } from './tokenizer';

/**
 * The webui's token counter for one part of the file (`update_token_counter`): comments and
 * extra-network tags removed, AND parts (positive prompt only) and prompt-editing variants
 * each counted, the largest shown as `count/target`. Chunks are those of the largest text,
 * with document offsets.
 */
export interface SectionTokens {
  kind: 'positive' | 'negative';
  count: number;
  target: number;
  approximate: boolean;
  chunks: { start: number; end: number; tokens: PromptToken[] }[];
}

/**
 * Tokenized emphasis segments by text, per tokenizer. A keystroke changes one segment; the
 * others, and every prompt-editing variant that repeats them, are looked up instead of re-encoded.
 */
const SEGMENT_CACHE_SIZE = 4096;
const segmentCaches = new WeakMap<PromptTokenizer, Map<string, { ids: number[]; offsets: [number, number][] }>>();

function cachingTokenizer(tokenizer: PromptTokenizer): PromptTokenizer {
  let cache = segmentCaches.get(tokenizer);
  if (!cache) segmentCaches.set(tokenizer, (cache = new Map()));
  return new CachingTokenizer(tokenizer, cache);
}

/**
 * A class rather than an object of closures: chunkPrompt calls `encodeWithOffsets` for every
 * segment, and a method made anew per count made V8 drop chunkPrompt's optimized code each time.
 */
class CachingTokenizer implements PromptTokenizer {
  readonly approximate: boolean;
  readonly commaId: number;

  constructor(
    private readonly tokenizer: PromptTokenizer,
    private readonly segments: Map<string, { ids: number[]; offsets: [number, number][] }>,
  ) {
    this.approximate = tokenizer.approximate;
    this.commaId = tokenizer.commaId;
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids);
  }

  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] } {
    let hit = this.segments.get(text);
    if (!hit) {
      hit = this.tokenizer.encodeWithOffsets(text);
      if (this.segments.size >= SEGMENT_CACHE_SIZE) this.segments.delete(this.segments.keys().next().value!);
      this.segments.set(text, hit);
    }
    return hit;
  }
}

export function countTokens(
  doc: PromptDocument,
  kind: 'positive' | 'negative',
  baseTokenizer: PromptTokenizer,
  options: ScheduleOptions,
  embeddings?: EmbeddingLookup,
): SectionTokens | undefined {
  let tokenizer = baseTokenizer;
  const analysis = kind === 'positive' ? doc.positive : doc.negative;
  if (!analysis) return undefined;
  const texts = countedTexts(analysis, kind);
  tokenizer = cachingTokenizer(tokenizer);
  let best: { count: number; chunks: SectionTokens['chunks'] } | undefined;
  for (const { text, toDocument } of texts) {
    const parse = parseSchedule(text);
    // Alternation gives a variant per step, mostly repeating a few texts: count each text once.
    const seen = new Set<string>();
    for (const variant of scheduleVariants(text, options, parse)) {
      if (seen.has(variant.text)) continue;
      seen.add(variant.text);
      const attention = parseAttention(variant.text);
      if (attention.error) continue; // A1111 raises; the counter shows nothing new
      const chunked = chunkPrompt(weightedTexts(attention.segments), tokenizer, embeddings);
      if (best && chunked.count <= best.count) continue;
      const map = (o: number) => toDocument(variantOffset(variant, o));
      // The tokens are this call's own: they take document offsets in place rather than as copies
      // (a 10,000-line prompt has 150,000 of them, and every copy is garbage to collect).
      best = {
        count: chunked.count,
        chunks: chunked.chunks.map((c) => {
          const tokens = c.tokens;
          for (const t of tokens) {
            const start = map(t.start);
            t.end = map(Math.max(t.end - 1, t.start)) + (t.end > t.start ? 1 : 0);
            t.start = start;
          }
          return { tokens, start: tokens[0]?.start ?? map(0), end: tokens[tokens.length - 1]?.end ?? map(0) };
        }),
      };
    }
  }
  const count = best?.count ?? 0;
  return { kind, count, target: targetOf(count), approximate: tokenizer.approximate, chunks: best?.chunks ?? [] };
}

/** The texts the counter tokenizes, each with a map from its offsets to document offsets. */
function countedTexts(analysis: PromptAnalysis, kind: 'positive' | 'negative'): { text: string; toDocument: (o: number) => number }[] {
  if (kind === 'positive') {
    return analysis.subprompts.map(({ sub }) => ({
      text: sub.text,
      toDocument: (o: number) => analysis.prompt.toSource(sub.start + o),
    }));
  }
  // The webui removes tags from the negative prompt for its counter (not for generation).
  const cleaned: MappedText = parseExtraNetworks(analysis.stripped.text).prompt;
  return [{ text: cleaned.text, toDocument: (o: number) => cleaned.toSource(o) }];
}
