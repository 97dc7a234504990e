import * as assert from 'assert';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { countTokens } from '../../../server/src/service/tokens/tokenCount';
import { PromptTokenizer } from '../../../server/src/service/tokens/tokenizer';
import { wordTokenizer } from './wordTokenizer';

/*
 * The token counter runs on every keystroke: it tokenizes each emphasis segment once per tokenizer and
 * looks the others up, so typing in a long prompt re-encodes only what changed (issue 12's 10,000-line
 * documents), and it keeps at most 4,096 segments per tokenizer so a long session does not grow the
 * server. Counted here as calls on the tokenizer, not as time. Written from the mutants
 * `npm run mutation` found no test for.
 */

/** The word tokenizer, recording each text it is asked to encode. */
function recording(): { tokenizer: PromptTokenizer; encoded: string[] } {
  const encoded: string[] = [];
  const tokenizer: PromptTokenizer = {
    approximate: false,
    commaId: wordTokenizer.commaId,
    decode: (ids) => wordTokenizer.decode(ids),
    encodeWithOffsets(text) {
      encoded.push(text);
      return wordTokenizer.encodeWithOffsets(text);
    },
  };
  return { tokenizer, encoded };
}

function count(text: string, tokenizer: PromptTokenizer): number {
  return countTokens(parsePromptDocument(text), 'positive', tokenizer, { baseSteps: 20 })!.count;
}

/** `(w0:1.1)(w1:1.2)(w2:1.1)…`: `n` segments of one word each, no two alike. */
function segments(from: number, n: number): string {
  return Array.from({ length: n }, (_, i) => `(w${from + i}:${i % 2 ? 1.2 : 1.1})`).join('');
}

describe('the token counter’s segment cache', () => {
  it('a second count encodes nothing again; an edit encodes only the segment it changed', () => {
    const { tokenizer, encoded } = recording();
    assert.strictEqual(count('a b, (c d:1.2), e', tokenizer), 7);
    assert.deepStrictEqual(encoded.splice(0), ['a b, ', 'c d', ', e']);
    assert.strictEqual(count('a b, (c d:1.2), e', tokenizer), 7);
    assert.deepStrictEqual(encoded.splice(0), []);
    assert.strictEqual(count('a b, (c d x:1.2), e', tokenizer), 8);
    assert.deepStrictEqual(encoded.splice(0), ['c d x']);
    // Another tokenizer has its own cache.
    const other = recording();
    assert.strictEqual(count('a b, (c d:1.2), e', other.tokenizer), 7);
    assert.deepStrictEqual(other.encoded, ['a b, ', 'c d', ', e']);
  });

  it('keeps 4,096 segments: a 4,096-segment prompt is looked up whole, one segment more drops the oldest', () => {
    const { tokenizer, encoded } = recording();
    assert.strictEqual(count(segments(0, 4096), tokenizer), 4096);
    assert.strictEqual(encoded.splice(0).length, 4096);
    assert.strictEqual(count(segments(0, 4096), tokenizer), 4096);
    assert.deepStrictEqual(encoded.splice(0), []);
    assert.strictEqual(count('(w4096:1.3)', tokenizer), 1);
    assert.deepStrictEqual(encoded.splice(0), ['w4096']);
    assert.strictEqual(count('(w1:1.3)', tokenizer), 1);
    assert.deepStrictEqual(encoded.splice(0), []);
    assert.strictEqual(count('(w0:1.3)', tokenizer), 1);
    assert.deepStrictEqual(encoded.splice(0), ['w0']);
  });
});
