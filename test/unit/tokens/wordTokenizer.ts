import { PromptTokenizer } from '../../../server/src/service/tokens/tokenizer';

/**
 * A tokenizer for tests of chunking: one token per word or punctuation mark, ids stable per text, "," is 267
 * as in CLIP. Chunk boundaries then fall where a test can count them by eye.
 */
export const wordTokenizer: PromptTokenizer = {
  approximate: false,
  commaId: 267,
  encodeWithOffsets(text: string) {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)) {
      ids.push(m[0] === ',' ? 267 : 1000 + [...m[0]].reduce((a, c) => (a * 31 + c.codePointAt(0)!) % 40000, 0));
      offsets.push([m.index!, m.index! + m[0].length]);
    }
    return { ids, offsets };
  },
  decode: (ids) => ids.join(' '),
};
