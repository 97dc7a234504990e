import * as assert from 'assert';
import { parseAttention } from '../../../server/src/service/semantics/attention';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { chunkPrompt, targetOf, weightedTexts } from '../../../server/src/service/tokens/chunks';
import { countTokens } from '../../../server/src/service/tokens/tokenCount';
import { wordTokenizer as words } from './wordTokenizer';
import { PromptTokenizer } from '../../../server/src/service/tokens/tokenizer';
import { checkChunkBoundaries } from '../../../server/src/service/features/checks/tokenChecks';
import { Problem } from '../../../server/src/service/features/checks/problem';


const chunk = (text: string) => chunkPrompt(weightedTexts(parseAttention(text).segments), words);
const sizes = (text: string) => chunk(text).chunks.map((c) => c.tokens.length);

describe('A1111 chunking', () => {
  it('counter examples: BREAK, empty, exact fills', () => {
    assert.deepStrictEqual([chunk('a BREAK b').count, targetOf(chunk('a BREAK b').count)], [76, 150]);
    assert.deepStrictEqual([chunk('').count, targetOf(0)], [0, 75]);
    assert.deepStrictEqual(sizes('w '.repeat(75)), [75]);
    assert.deepStrictEqual([chunk('w '.repeat(76)).count, sizes('w '.repeat(76))], [76, [75, 1]]);
    assert.deepStrictEqual([chunk('w '.repeat(150)).count, targetOf(150)], [150, 150]);
  });

  it('a full chunk with a comma in its last 20 tokens moves the text after the comma on', () => {
    // 70 words, a comma, then 10 words: the chunk fills at the 75th token with the comma at 71st.
    const text = 'w '.repeat(70) + ', ' + 'x '.repeat(10);
    assert.deepStrictEqual(sizes(text), [71, 10]);
    // A comma further back than 20 tokens does not.
    const far = 'w '.repeat(50) + ', ' + 'x '.repeat(30);
    assert.deepStrictEqual(sizes(far), [75, 6]);
  });

  it('the comma backtrack reaches exactly 20 tokens back (comma_padding_backtrack = 20), not 21', () => {
    // The chunk fills with the comma 20 tokens from its end: the 19 words after it move on.
    const at20 = 'w '.repeat(55) + ', ' + 'x '.repeat(20);
    assert.deepStrictEqual([sizes(at20), chunk(at20).count], [[56, 20], 95]);
    // 21 tokens from its end: nothing moves.
    const at21 = 'w '.repeat(54) + ', ' + 'x '.repeat(21);
    assert.deepStrictEqual([sizes(at21), chunk(at21).count], [[75, 1], 76]);
  });

  it('emphasis segments are tokenized separately, BREAK inside brackets is a word', () => {
    const c = chunk('(a b:1.5) c').chunks[0].tokens;
    assert.deepStrictEqual(c.map((t) => t.weight), [1.5, 1.5, 1]);
    assert.deepStrictEqual(chunk('(a BREAK b)').count, 3);
  });

  it('runs of equal weight are tokenized as one text, as A1111 merges them before tokenizing', () => {
    // (cat)(dog) is one pair ['catdog', 1.1] for A1111: one word, one token here.
    assert.deepStrictEqual(chunk('(cat)(dog)').chunks[0].tokens.map((t) => [t.weight, t.start, t.end]), [[1.1, 1, 9]]);
    // A lone backslash is an empty segment: cat\dog is one word too.
    assert.deepStrictEqual(sizes('cat\\dog'), [1]);
    // An empty prompt is A1111's one pair ['', 1.0].
    assert.deepStrictEqual(weightedTexts(parseAttention('').segments), [{ text: '', weight: 1, offsets: new Int32Array(0), isBreak: false }]);
  });

  it('only the text BREAK at weight -1 closes a chunk: other text at weight -1 is encoded', () => {
    const c = chunk('x (a:-1) y');
    assert.deepStrictEqual(c.chunks.map((k) => k.tokens.map((t) => t.weight)), [[1, -1, 1]]);
  });

  it('a BREAK at the end leaves no empty chunk; an empty prompt is one empty chunk', () => {
    assert.deepStrictEqual([sizes('a BREAK'), chunk('a BREAK').count], [[1], 75]);
    assert.deepStrictEqual([sizes(''), chunk('').count], [[0], 0]);
  });

  it('BREAK inside brackets is a word whose token covers the keyword, whatever the spaces around it', () => {
    for (const text of ['(a BREAK b)', '(BREAK)', '(a   BREAK\tb)']) {
      const tokens = chunk(text).chunks[0].tokens.filter((t) => t.weight < 0);
      assert.deepStrictEqual(tokens.map((t) => [text.slice(t.start, t.end), t.weight]), [['BREAK', -1.1]], text);
    }
  });

  it('a tokenizer without a comma id finds commas by their text', () => {
    const noCommaId: PromptTokenizer = { ...words, commaId: -1 };
    const text = 'w '.repeat(70) + ', ' + 'x '.repeat(10);
    assert.deepStrictEqual(chunkPrompt(weightedTexts(parseAttention(text).segments), noCommaId).chunks.map((c) => c.tokens.length), [71, 10]);
  });

  it('token offsets point into the input, through escapes', () => {
    const [first] = chunk('a \\(b\\) c').chunks;
    assert.deepStrictEqual(first.tokens.map((t) => [t.start, t.end]), [[0, 1], [3, 4], [4, 5], [6, 7], [8, 9]]);
  });

  it('an embedding takes its vector count and is never split', () => {
    const name = words.encodeWithOffsets('easyneg').ids;
    const lookup = { get: (id: number) => (id === name[0] ? [{ ids: name, vectors: 8, name: 'easyneg' }] : undefined) };
    const text = 'w '.repeat(70) + 'easyneg';
    const result = chunkPrompt(weightedTexts(parseAttention(text).segments), words, lookup);
    assert.deepStrictEqual(result.chunks.map((c) => c.tokens.length), [70, 8]);
    assert.strictEqual(result.count, 83);
    assert.strictEqual(result.chunks[1].tokens[0].embedding, 'easyneg');
  });

  it('a name of several tokens is an embedding only when all of them match; its vectors cover the whole name', () => {
    const name = words.encodeWithOffsets('bad hands').ids;
    const lookup = { get: (id: number) => (id === name[0] ? [{ ids: name, vectors: 3, name: 'bad hands' }] : undefined) };
    const tokens = (text: string) => chunkPrompt(weightedTexts(parseAttention(text).segments), words, lookup).chunks[0].tokens;
    const text = 'a bad hands';
    assert.deepStrictEqual(
      tokens(text).map((t) => [text.slice(t.start, t.end), t.id, t.embedding]),
      [['a', words.encodeWithOffsets('a').ids[0], undefined], ['bad hands', 0, 'bad hands'], ['bad hands', 0, undefined], ['bad hands', 0, undefined]],
    );
    const followed = 'bad hands, b';
    assert.deepStrictEqual(tokens(followed).map((t) => followed.slice(t.start, t.end)), ['bad hands', 'bad hands', 'bad hands', ',', 'b']);
    // Only the first token matches: two words.
    assert.deepStrictEqual(tokens('bad feet').map((t) => t.embedding), [undefined, undefined]);
    assert.deepStrictEqual(tokens('bad feet').map((t) => t.id), words.encodeWithOffsets('bad feet').ids);
  });

  it('an embedding that fills the chunk to exactly 75 stays in it; one token more moves it on', () => {
    const name = words.encodeWithOffsets('easyneg').ids;
    const lookup = { get: (id: number) => (id === name[0] ? [{ ids: name, vectors: 8, name: 'easyneg' }] : undefined) };
    const chunked = (text: string) => {
      const result = chunkPrompt(weightedTexts(parseAttention(text).segments), words, lookup);
      return [result.chunks.map((c) => c.tokens.length), result.count];
    };
    assert.deepStrictEqual(chunked('w '.repeat(67) + 'easyneg'), [[75], 75]);
    assert.deepStrictEqual(chunked('w '.repeat(68) + 'easyneg'), [[68, 8], 83]);
  });

  it('the counter takes the largest of the AND parts and prompt-editing variants, tags and comments removed', () => {
    const doc = parsePromptDocument('a b c AND ' + 'w '.repeat(80) + ' # comment\n<lora:x:1> [short:' + 'long '.repeat(10) + ':5]\nNegative prompt: <lora:y:1> n n');
    const positive = countTokens(doc, 'positive', words, { baseSteps: 20 })!;
    assert.deepStrictEqual([positive.count, positive.target], [90, 150]);
    // The chunk boundary maps to the 76th word's place in the document.
    assert.strictEqual(doc.text.slice(positive.chunks[1].start, positive.chunks[1].start + 1), 'w');
    const negative = countTokens(doc, 'negative', words, { baseSteps: 20 })!;
    assert.deepStrictEqual([negative.count, negative.target], [2, 75]);
  });
});

describe('the counter on prompt editing', () => {
  it("counts the longest step's text, and its tokens point at their words in the document", () => {
    const text = 'top, [bb cc:dd ee (ff:1.2):3] gg\\(\nNegative prompt: n';
    const positive = countTokens(parsePromptDocument(text), 'positive', words, { baseSteps: 20 })!;
    // Step 20's text, 'top, dd ee (ff:1.2) gg\\(', is the longer: 7 tokens, the escaped '(' one of them.
    assert.deepStrictEqual([positive.count, positive.target], [7, 75]);
    const [only] = positive.chunks;
    assert.deepStrictEqual(
      only.tokens.map((t) => [text.slice(t.start, t.end), t.weight]),
      [['top', 1], [',', 1], ['dd', 1], ['ee', 1], ['ff', 1.2], ['gg', 1], ['(', 1]],
    );
    assert.deepStrictEqual([only.start, only.end], [0, text.indexOf('\n')]);
  });

  it('a text A1111 raises on (an emphasis weight float() rejects) counts nothing', () => {
    const positive = countTokens(parsePromptDocument('x (a b c:1..2) d'), 'positive', words, { baseSteps: 20 })!;
    assert.deepStrictEqual([positive.count, positive.target, positive.chunks], [0, 75, []]);
  });

  it('alternation: each option is a step of its own; a tie keeps the first', () => {
    const text = 'x [aa bb|cc] y';
    const positive = countTokens(parsePromptDocument(text), 'positive', words, { baseSteps: 20 })!;
    assert.deepStrictEqual(positive.count, 4);
    assert.deepStrictEqual(positive.chunks[0].tokens.map((t) => text.slice(t.start, t.end)), ['x', 'aa', 'bb', 'y']);
    const tie = 'x [aa|bb] y';
    const tied = countTokens(parsePromptDocument(tie), 'positive', words, { baseSteps: 20 })!;
    assert.deepStrictEqual(tied.chunks[0].tokens.map((t) => tie.slice(t.start, t.end)), ['x', 'aa', 'y']);
  });
});

describe('chunk-boundary diagnostics', () => {
  it('trigger words that straddle a chunk boundary', () => {
    const text = 'w '.repeat(74) + 'smart falcon, x';
    const doc = parsePromptDocument(text);
    const sections = [countTokens(doc, 'positive', words, { baseSteps: 20 })!];
    const out: Problem[] = [];
    checkChunkBoundaries(doc, sections, ['smart falcon', 'single'], out);
    assert.deepStrictEqual(out.map((p) => [p.code, p.severity, text.slice(p.span.start, p.span.end)]), [
      ['chunk-splits-trigger', 'information', 'smart falcon'],
    ]);
  });
});
