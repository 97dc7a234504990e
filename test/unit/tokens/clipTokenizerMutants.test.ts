import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { FIXTURES } from '../fixtures';
import { clipTokenizerOnce } from './clipTokenizerOnce';
import { ApproximateTokenizer, ClipTokenizer, CLIP_BOS_ID, CLIP_COMMA_ID, CLIP_EOS_ID } from '../../../server/src/service/tokens/clipTokenizer';

/**
 * The paths the real prompts rarely reach: the approximate tokenizer's estimates (no tokenizer files
 * found), tokenizer files that are broken or unusual (validation messages, BOM, CRLF, repeated or
 * out-of-order merges), the word cache, UTF-8 edge cases and decode. Most cases use small
 * hand-made tokenizer files whose ids follow from the GPT-2/CLIP byte alphabet, so every expected id
 * is computed here from the rules, not copied from the code under test.
 */

/** GPT-2/CLIP `bytes_to_unicode()`: printable Latin-1 bytes stand for themselves, the rest for U+0100 onwards. */
function byteAlphabet(): string[] {
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return chars;
}
const BYTES = byteAlphabet();

/**
 * vocab.json / merges.txt texts for a tiny CLIP-shaped tokenizer: `extra` tokens first (ids 0, 1, …),
 * then the 256 byte symbols, then the 256 byte symbols with `</w>`.
 */
function files(extra: string[], merges: string[]): { vocabText: string; mergesText: string; vocab: Map<string, number> } {
  const vocab = new Map<string, number>();
  for (const token of extra) vocab.set(token, vocab.size);
  for (const c of BYTES) if (!vocab.has(c)) vocab.set(c, vocab.size);
  for (const c of BYTES) if (!vocab.has(c + '</w>')) vocab.set(c + '</w>', vocab.size);
  return { vocabText: JSON.stringify(Object.fromEntries(vocab)), mergesText: ['#version: 0.2', ...merges].join('\n') + '\n', vocab };
}

function build(vocabText: string, mergesText: string, options: { cacheSize?: number } = {}): ClipTokenizer {
  const result = ClipTokenizer.fromText(vocabText, mergesText, options);
  assert.ok('tokenizer' in result, 'problem' in result ? result.problem : '');
  return result.tokenizer;
}

function problemOf(vocabText: unknown, mergesText: unknown): string | undefined {
  const result = ClipTokenizer.fromText(vocabText as string, mergesText as string);
  return 'problem' in result ? result.problem : undefined;
}

/** The ids a merge-less tokenizer must give a word: its UTF-8 bytes (TextEncoder: lone surrogate → EF BF BD), the last with `</w>`. */
function byteIds(vocab: Map<string, number>, word: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(word));
  return bytes.map((b, i) => vocab.get(BYTES[b] + (i === bytes.length - 1 ? '</w>' : '')) as number);
}

/**
 * OpenAI `simple_tokenizer.py` `bpe()` transcribed on strings (ASCII words only: each byte is its own
 * symbol): merge every occurrence of the lowest-ranked pair, left to right, until none is a merge.
 * Ranks as Python builds them: merges.txt lines [1, 48895), a repeated pair keeping its last rank.
 */
function referenceBpe(mergesText: string): (word: string) => string[] {
  const ranks = new Map<string, number>();
  mergesText
    .split('\n')
    .slice(1, 49152 - 256 - 2 + 1)
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length === 2)
    .forEach(([a, b], rank) => ranks.set(a + ' ' + b, rank));
  return (token: string): string[] => {
    let word = [...token.slice(0, -1)].concat(token.slice(-1) + '</w>');
    while (word.length > 1) {
      let best: [string, string] | undefined;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = ranks.get(word[i] + ' ' + word[i + 1]) ?? Infinity;
        if (rank < bestRank) [bestRank, best] = [rank, [word[i], word[i + 1]]];
      }
      if (!best) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === best[0] && word[i + 1] === best[1]) {
          merged.push(best[0] + best[1]);
          i += 2;
        } else merged.push(word[i++]);
      }
      word = merged;
    }
    return word;
  };
}

const approx = new ApproximateTokenizer();
const count = (text: string): number => approx.encode(text).length;

describe('approximate tokenizer estimates (no tokenizer files found)', () => {
  it('ASCII words: 1 token up to 7 letters, then 1 more per 4 letters started', () => {
    assert.deepStrictEqual(
      ['cat', 'abcdefg', 'abcdefgh', 'abcdefghijk', 'abcdefghijkl', 'abcdefghijklmnop'].map(count),
      [1, 1, 2, 2, 3, 4],
    );
    // Every piece of an estimated word is an unknown id.
    assert.deepStrictEqual(approx.encode('abcdefghijkl'), [-1, -1, -1]);
  });

  it('a word with a non-ASCII letter is estimated by its UTF-8 bytes, wherever the letter is', () => {
    // 'é' is 2 bytes: 11 + 2 = 13 bytes → round(6.5) = 7 tokens (not the ASCII-word rule's 3).
    assert.strictEqual(count('éabcdefghijk'), 7);
    assert.strictEqual(count('abcdefghijké'), 7);
  });

  it('single characters and digits are 1 token each', () => {
    assert.deepStrictEqual(approx.encode('€'), [-1]);
    assert.deepStrictEqual(approx.encode('!'), [-1]);
    assert.deepStrictEqual(approx.encode('2024'), [-1, -1, -1, -1]);
  });

  it('ASCII punctuation runs: 1 token per 2 characters', () => {
    assert.deepStrictEqual(['((', '(((', '((((', '(((((:'].map(count), [1, 2, 2, 3]);
    assert.deepStrictEqual(approx.encode('((('), [-1, -1]);
  });

  it('other symbols: 1 token per UTF-8 byte (2-, 3- and 4-byte characters, surrogate pairs, lone surrogates)', () => {
    const cases: [string, number][] = [
      ['€€', 6], // U+20AC: 3 bytes each
      ['©©', 4], // U+00A9: 2 bytes each
      ['€(', 4], // 3 + 1: ASCII inside a symbol run is 1 byte
      ['€\u0080', 5], // U+0080 is the first 2-byte character
      ['((€', 5],
      ['€((', 5],
      ['😀😀', 8], // surrogate pairs: 4 bytes each
      ['𐄀𐄀', 8], // U+10100: high surrogate D800, the lowest
      ['\u{10fffd}\u{10fffd}', 8], // high surrogate DBFF, the highest
      ['\uD800\uD800', 6], // lone high surrogates: 3 bytes each (as U+FFFD)
      ['\uDC00\uDC00', 6], // lone low surrogates
      ['€\uDC00', 6],
      ['€\uD83D', 6], // a high surrogate at the very end
    ];
    assert.deepStrictEqual(
      cases.map(([text]) => [text, count(text)]),
      cases,
    );
    assert.deepStrictEqual(approx.encode('€€'), [-1, -1, -1, -1, -1, -1]);
  });

  it('other letters (CJK, Samaritan): 1 token per 2 UTF-8 bytes, rounded half up', () => {
    assert.strictEqual(count('日本語'), 5); // 9 bytes
    assert.strictEqual(count('日本'), 3); // 6 bytes
    assert.strictEqual(count('\u0800\u0800'), 3); // U+0800, the first 3-byte letter: 6 bytes
    assert.strictEqual(count('éé'), 2); // 4 bytes
    assert.deepStrictEqual(approx.encode('日本語'), [-1, -1, -1, -1, -1]);
  });

  it('special tokens count 1 with their real ids; a lone comma is the comma id', () => {
    assert.deepStrictEqual(approx.encode('<|startoftext|>a<|endoftext|>'), [CLIP_BOS_ID, -1, CLIP_EOS_ID]);
    assert.deepStrictEqual(approx.encode('a, b'), [-1, CLIP_COMMA_ID, -1]);
  });

  it('decode shows only the known ids; idOf knows only the specials and the comma', () => {
    assert.strictEqual(approx.decode([CLIP_BOS_ID, -1, CLIP_COMMA_ID, 320, CLIP_EOS_ID]), '<|startoftext|>, <|endoftext|>');
    assert.strictEqual(approx.decode([-1, 320]), '');
    assert.strictEqual(approx.idOf('<|startoftext|>'), CLIP_BOS_ID);
    assert.strictEqual(approx.idOf('<|endoftext|>'), CLIP_EOS_ID);
    assert.strictEqual(approx.idOf(',</w>'), CLIP_COMMA_ID);
    assert.strictEqual(approx.idOf('cat</w>'), undefined);
    assert.strictEqual(approx.idOf(','), undefined);
  });
});

describe('CLIP tokenizer files: what is refused, and why', () => {
  const good = files([], ['a b']);
  const MERGES_PROBLEM = 'merges.txt has no merges (expected "#version: 0.2" and then one "a b" pair a line)';

  it('vocab.json that is not JSON, or not a text at all', () => {
    assert.strictEqual(problemOf(undefined, good.mergesText), 'vocab.json is not valid JSON (Unexpected end of JSON input)');
    assert.match(problemOf('{"a": 1', good.mergesText) ?? '', /^vocab\.json is not valid JSON \(.+\)$/);
  });

  it('vocab.json that is JSON but not an object of token → id', () => {
    for (const text of ['null', '42', '"tokens"', '[1, 2]', '[]']) {
      assert.strictEqual(problemOf(text, good.mergesText), 'vocab.json is not a JSON object of token → id', text);
    }
  });

  it('ids that are not token ids: negative, fractional, text, past 2^31-1', () => {
    assert.strictEqual(problemOf('{"a": -1}', good.mergesText), 'vocab.json maps "a" to -1, not a token id');
    assert.strictEqual(problemOf('{"a": 1.5}', good.mergesText), 'vocab.json maps "a" to 1.5, not a token id');
    assert.strictEqual(problemOf('{"a": "7"}', good.mergesText), 'vocab.json maps "a" to "7", not a token id');
    assert.strictEqual(problemOf('{"a": 2147483648}', good.mergesText), 'vocab.json maps "a" to 2147483648, not a token id');
  });

  it('the largest id, 2^31-1, is a token id and decodes', () => {
    const vocab = JSON.parse(good.vocabText) as Record<string, number>;
    vocab['big'] = 2147483647;
    const clip = build(JSON.stringify(vocab), good.mergesText);
    assert.strictEqual(clip.idOf('big'), 2147483647);
    assert.strictEqual(clip.decode([2147483647]), 'big');
  });

  it('an empty vocabulary, and one without the byte tokens', () => {
    assert.strictEqual(problemOf('{}', good.mergesText), 'vocab.json is empty');
    assert.strictEqual(problemOf('{"a": 0}', good.mergesText), 'vocab.json lacks the byte token "Ā"; it is not a CLIP vocabulary');
  });

  it('merges.txt with no merges, or not a text', () => {
    assert.strictEqual(problemOf(good.vocabText, ''), MERGES_PROBLEM);
    assert.strictEqual(problemOf(good.vocabText, '#version: 0.2\n'), MERGES_PROBLEM);
    assert.strictEqual(problemOf(good.vocabText, undefined), MERGES_PROBLEM);
  });

  it('a UTF-8 BOM before vocab.json is ignored; one inside a token is kept', () => {
    const { vocabText, mergesText, vocab } = files(['x\uFEFFy</w>'], []);
    for (const text of ['\uFEFF' + vocabText, vocabText]) {
      const clip = build(text, mergesText + 'a b\n');
      assert.strictEqual(clip.idOf('x\uFEFFy</w>'), vocab.get('x\uFEFFy</w>'));
      assert.strictEqual(clip.idOf('xy</w>'), undefined);
    }
  });

  it('merges.txt lines split on any whitespace, as Python str.split(): CRLF, tabs, double spaces', () => {
    const { vocabText, vocab } = files(['ab</w>', 'cd</w>', 'ef</w>'], []);
    const clip = build(vocabText, '#version: 0.2\r\na b</w>\r\nc \t d</w>\r\n  e  f</w>  \r\n');
    assert.deepStrictEqual(clip.encode('ab cd ef'), [vocab.get('ab</w>'), vocab.get('cd</w>'), vocab.get('ef</w>')]);
  });
});

describe('CLIP tokenizer internals seen from outside', () => {
  it('the comma id comes from the vocabulary (",</w>"), not a fixed number', () => {
    const { vocabText, mergesText, vocab } = files([], ['a b']);
    const clip = build(vocabText, mergesText);
    assert.strictEqual(clip.commaId, vocab.get(',</w>'));
    assert.notStrictEqual(clip.commaId, CLIP_COMMA_ID);
  });

  it('UTF-8 bytes of every kind become byte symbols exactly as TextEncoder writes them', () => {
    const { vocabText, mergesText, vocab } = files([], ['q q']);
    const clip = build(vocabText, mergesText);
    const words = [
      '\u0080', // first 2-byte character
      '\u07ff', // the last 2-byte character
      '\u0800', // the first 3-byte character
      '\uffe0', // a 3-byte symbol
      '😀', // 4 bytes from a surrogate pair
      '𐄀', // high surrogate D800, low DD00
      '\u{10ffff}', // high DBFF, low DFFF (the last code point)
      '\u{10fffd}',
      '\u{10000}', // high D800, low DC00 (a letter)
      '\uD83D', // lone high surrogate → U+FFFD
      '\uDFFF', // lone low surrogate (the last) → U+FFFD
      '\uDC00', // lone low surrogate (the first)
      '\uD83D€', // a high surrogate followed by a non-surrogate
      '€\uD83D', // a high surrogate at the end of the word
      '€\uDC00', // a low surrogate after a character that is no high surrogate
      '\uD83D\uE000', // a high surrogate followed by U+E000, just past the low surrogates
    ];
    for (const word of words) {
      assert.deepStrictEqual(clip.encode(word), byteIds(vocab, word), JSON.stringify(word));
    }
  });

  it('a long run of 3-byte characters keeps every byte (the symbol buffer grows)', () => {
    const { vocabText, mergesText, vocab } = files([], ['q q']);
    for (const word of ['€'.repeat(86), '€'.repeat(300)]) {
      const clip = build(vocabText, mergesText);
      assert.deepStrictEqual(clip.encode(word), byteIds(vocab, word), `${word.length} characters`);
    }
  });

  it('a merge listed twice keeps its LAST rank, as Python dict(zip(merges, ranks)) does', () => {
    // Ranks: (a, b) → 2 (its last line), (b, c</w>) → 1: "abc" merges b c</w> first.
    const { vocabText, vocab } = files(['ab', 'bc</w>'], []);
    const clip = build(vocabText, '#version: 0.2\na b\nb c</w>\na b\n');
    assert.deepStrictEqual(clip.encode('abc'), [vocab.get('a'), vocab.get('bc</w>')]);
    // Where the pair is alone it still merges.
    assert.deepStrictEqual(clip.encode('abx'), [vocab.get('ab'), vocab.get('x</w>')]);
  });

  it('a dense merge table (every letter pair) gives every two-letter word its own id', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const extra: string[] = [];
    const merges: string[] = [];
    for (const x of letters) for (const y of letters) { extra.push(x + y); merges.push(`${x} ${y}`); }
    for (const x of letters) for (const y of letters) { extra.push(x + y + '</w>'); merges.push(`${x} ${y}</w>`); }
    const { vocabText, mergesText, vocab } = files(extra, merges);
    const clip = build(vocabText, mergesText);
    const words: string[] = [];
    for (const x of letters) for (const y of letters) words.push(x + y);
    assert.deepStrictEqual(clip.encode(words.join(' ')), words.map((w) => vocab.get(w + '</w>')));
    // Three letters: the pair without </w> ranks first, then nothing joins xy with z</w>.
    assert.deepStrictEqual(clip.encode('cat'), [vocab.get('ca'), vocab.get('t</w>')]);
    assert.deepStrictEqual(clip.encode('zzzz'), [vocab.get('zz'), vocab.get('zz</w>')]);
  });

  it('a half-filled merge table (x y for x < y) gives every three-letter word the ids OpenAI\'s bpe() gives', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const extra: string[] = [];
    const merges: string[] = [];
    for (const end of ['', '</w>']) {
      for (const x of letters) for (const y of letters) if (x < y) { extra.push(x + y + end); merges.push(`${x} ${y}${end}`); }
    }
    const { vocabText, mergesText, vocab } = files(extra, merges);
    const clip = build(vocabText, mergesText);
    const reference = referenceBpe(mergesText);
    const words: string[] = [];
    for (const x of letters) for (const y of letters) for (const z of letters) words.push(x + y + z);
    assert.deepStrictEqual(clip.encode(words.join(' ')), words.flatMap((w) => reference(w).map((t) => vocab.get(t))));
    assert.deepStrictEqual(reference('abc'), ['ab', 'c</w>']); // the reference itself: lowest rank first
    assert.deepStrictEqual(reference('cba'), ['c', 'b', 'a</w>']);
  });

  it('long words (over 96 symbols) in the real CLIP files give the ids OpenAI\'s bpe() gives', function () {
    this.timeout(60_000);
    const clipDir = path.join(FIXTURES, 'clip');
    const vocabText = fs.readFileSync(path.join(clipDir, 'vocab.json'), 'utf8');
    const mergesText = fs.readFileSync(path.join(clipDir, 'merges.txt'), 'utf8');
    const built = clipTokenizerOnce(vocabText, mergesText);
    assert.ok('tokenizer' in built);
    const vocab = new Map(Object.entries(JSON.parse(vocabText) as Record<string, number>));
    const reference = referenceBpe(mergesText);
    const words = [
      'supercalifragilisticexpialidocious'.repeat(3),
      'masterpiece'.repeat(10),
      'abcdefghijklmnopqrstuvwxyz'.repeat(4),
      'a'.repeat(97),
      'ab'.repeat(60),
      'lalaland'.repeat(13),
      'qzxjvkwpfgbhmyd'.repeat(7),
      'highlydetailedintricatebeautifulportraitofawomanwithlonghairstandinginafieldofflowersatsunsetwithgoldenlight',
    ];
    for (const word of words) {
      assert.ok(word.length > 96);
      assert.deepStrictEqual(built.tokenizer.encode(word), reference(word).map((t) => vocab.get(t)), word);
    }
    assert.deepStrictEqual(reference('masterpiece'), ['masterpiece</w>']);
  });

  it('merges that use a symbol made by a LATER merge still tokenize as OpenAI\'s loop, in short and long words', () => {
    // Rank 0: "ab a" (uses "ab", made only at rank 1). OpenAI merges every (a, b) first, then (ab, a):
    // "ab" × k → ab × (k-2), aba, b</w>. Merging one pair at a time would give aba, b, aba, b, ….
    const { vocabText, vocab } = files(['aba', 'ab'], []);
    const clip = build(vocabText, '#version: 0.2\nab a\na b\n');
    const expected = (k: number): number[] => [
      ...new Array<number>(k - 2).fill(vocab.get('ab') as number),
      vocab.get('aba') as number,
      vocab.get('b</w>') as number,
    ];
    assert.deepStrictEqual(clip.encode('ababab'), expected(3));
    assert.deepStrictEqual(clip.encode('ab'.repeat(49)), expected(49), '98 symbols (a long word)');
    assert.deepStrictEqual(clip.encode('ab'.repeat(200)), expected(200), '400 symbols');
  });

  it('the same merges the other way round (the later symbol on the right) give the loop result too', () => {
    // Rank 0: "b ab"; rank 1: "a b". "b" + "ab" × k: every (a, b) first, then (b, ab) at the front.
    const { vocabText, vocab } = files(['bab', 'ab', 'ab</w>'], []);
    const clip = build(vocabText, '#version: 0.2\nb ab\na b\na b</w>\n');
    const expected = (k: number): number[] => [
      vocab.get('bab') as number,
      ...new Array<number>(k - 2).fill(vocab.get('ab') as number),
      vocab.get('ab</w>') as number,
    ];
    assert.deepStrictEqual(clip.encode('b' + 'ab'.repeat(3)), expected(3));
    assert.deepStrictEqual(clip.encode('b' + 'ab'.repeat(60)), expected(60));
  });

  it('a later symbol on the right that a chain of merges then extends leftwards still gives the loop result in long words', () => {
    // Rank 0 "b ab" uses "ab", made at rank 2; rank 1 "bab a" extends the result. OpenAI merges every (a, b)
    // first, so no "a" is left for rank 1: bab, ab × (k-1), x</w>. Merging pairs as they appear would make
    // "bab" at the front, then take the next word's "a" for "baba" and strand a "b".
    const mergesText = '#version: 0.2\nb ab\nbab a\na b\n';
    const { vocabText, vocab } = files(['bab', 'baba', 'ab'], []);
    const clip = build(vocabText, mergesText);
    const reference = referenceBpe(mergesText);
    const expected = (k: number): string[] => ['bab', ...new Array<string>(k - 1).fill('ab'), 'x</w>'];
    for (const k of [3, 60]) {
      const word = 'b' + 'ab'.repeat(k) + 'x';
      assert.deepStrictEqual(reference(word), expected(k), `reference, ${word.length} symbols`);
      assert.deepStrictEqual(clip.encode(word), expected(k).map((t) => vocab.get(t)), `${word.length} symbols`);
    }
  });

  it('a second merge with the same left (or right) symbol whose slot collides is kept, not written over', () => {
    // Ids: "zz" is 98 and "b" is 1024 + 98, so (a, zz) and (a, b) hash to the same slot of a 1,024-slot table.
    // Likewise (zz, c) and (b, c) on the right side.
    const named: Record<number, string> = { 98: 'zz', 99: 'azz', 100: 'ab', 101: 'zzc', 102: 'bc' };
    const extra = Array.from({ length: 1024 }, (_, i) => named[i] ?? `filler${i}`);
    const { vocabText, vocab } = files(extra, []);
    assert.strictEqual((vocab.get('b') as number) - (vocab.get('zz') as number), 1024);
    const clip = build(vocabText, '#version: 0.2\nz z\na zz\na b\nzz c\nb c\n');
    assert.deepStrictEqual(clip.encode('azzq'), [vocab.get('azz'), vocab.get('q</w>')]);
    assert.deepStrictEqual(clip.encode('abq'), [vocab.get('ab'), vocab.get('q</w>')]);
    assert.deepStrictEqual(clip.encode('zzcq'), [vocab.get('zzc'), vocab.get('q</w>')]);
    assert.deepStrictEqual(clip.encode('xbcq'), [vocab.get('x'), vocab.get('bc'), vocab.get('q</w>')]);
  });

  it('long words: a pair whose left symbol was merged into its neighbour, or changed, is never merged later', () => {
    // (a, b) first makes "b" part of "ab": the later (b, c) at b's old place must not fire, and when "d e"
    // then merges, its left neighbour is still "c", so (c, de) joins them. Over 96 symbols the heap path
    // runs; under, OpenAI's loop: both give the reference's ids.
    const times = (k: number, tokens: string[]): string[] => Array.from({ length: k }, () => tokens).flat();
    const cases: [string, string, string[]][] = [
      ['#version: 0.2\na b\nb c\nd e\nc de\n', 'abcde'.repeat(20), [...times(19, ['ab', 'cde']), 'ab', 'c', 'd', 'e</w>']],
    // "s" becomes "svw" (rank 1) before (s, v) at rank 2 comes up; the next "v" must not join the old "s".
      ['#version: 0.2\nv w\ns vw\ns v\n', 'svwv'.repeat(25), [...times(24, ['svw', 'v']), 'svw', 'v</w>']],
      // "t" becomes "tu" before (s, t) comes up: s stays alone (but for the last, where "u</w>" does not join).
      ['#version: 0.2\nt u\ns t\n', 'stu'.repeat(33), [...times(32, ['s', 'tu']), 'st', 'u</w>']],
    ];
    for (const [mergesText, word, expected] of cases) {
      const { vocabText, vocab } = files(mergesText.split('\n').slice(1, -1).map((line) => line.replace(' ', '')), []);
      const clip = build(vocabText, mergesText);
      assert.ok(word.length > 96);
      assert.deepStrictEqual(referenceBpe(mergesText)(word), expected, `reference for ${mergesText.split('\n').slice(1).join(', ')}`);
      assert.deepStrictEqual(clip.encode(word), expected.map((t) => vocab.get(t)), mergesText);
      const short = word.slice(0, 8);
      assert.deepStrictEqual(clip.encode(short), referenceBpe(mergesText)(short).map((t) => vocab.get(t)), short);
    }
  });

  it('a pair beyond the end of the current word never merges (the symbol buffer is reused)', function () {
    // "y</w> z</w>" is a merge; after "xyz" the buffer still holds z</w> right after "xy"'s last symbol.
    const { vocabText, vocab } = files(['y</w>z</w>'], []);
    const clip = build(vocabText, '#version: 0.2\ny</w> z</w>\n');
    assert.deepStrictEqual(clip.encode('xyz'), byteIds(vocab, 'xyz'));
    assert.deepStrictEqual(clip.encode('xy'), byteIds(vocab, 'xy'));
  });

  it('decode: bytes of other tokens, a BOM kept, invalid UTF-8 as U+FFFD, non-numbers and unknown ids skipped', () => {
    const { vocabText, mergesText, vocab } = files(['日</w>'], ['a b']);
    const clip = build(vocabText, mergesText);
    assert.strictEqual(clip.decode([vocab.get('日</w>') as number]), '日 ');
    const bom = [0xef, 0xbb, 0xbf].map((b) => vocab.get(BYTES[b]) as number);
    assert.strictEqual(clip.decode([...bom, vocab.get('a</w>') as number]), '\uFEFFa ');
    assert.strictEqual(clip.decode([vocab.get(BYTES[0xff]) as number, vocab.get('a</w>') as number]), '\uFFFDa ');
    assert.strictEqual(clip.decode(['5' as unknown as number, 99999, vocab.get('a</w>') as number]), 'a ');
    assert.strictEqual(clip.decode(null as unknown as number[]), '');
  });
});

describe('CLIP tokenizer word cache', () => {
  const { vocabText, mergesText, vocab } = files(['ab</w>'], ['a b</w>']);

  it('caches each distinct word once, and clearCache empties it', () => {
    const clip = build(vocabText, mergesText);
    assert.deepStrictEqual(clip.encode('ab cd ab'), [vocab.get('ab</w>'), ...byteIds(vocab, 'cd'), vocab.get('ab</w>')]);
    assert.strictEqual(clip.cachedWords, 2);
    clip.clearCache();
    assert.strictEqual(clip.cachedWords, 0);
    assert.deepStrictEqual(clip.encode('ab'), [vocab.get('ab</w>')]);
    assert.strictEqual(clip.cachedWords, 1);
  });

  it('holds at most cacheSize words, and answers the same after evicting', () => {
    const clip = build(vocabText, mergesText, { cacheSize: 2 });
    clip.encode('ab cd ef gh');
    assert.strictEqual(clip.cachedWords, 2);
    assert.deepStrictEqual(clip.encode('ab cd ab'), [vocab.get('ab</w>'), ...byteIds(vocab, 'cd'), vocab.get('ab</w>')]);
    assert.strictEqual(clip.cachedWords, 2);
  });

  it('cacheSize 0 or less caches nothing; words over 64 characters are never cached', () => {
    for (const cacheSize of [0, -3]) {
      const clip = build(vocabText, mergesText, { cacheSize });
      assert.deepStrictEqual(clip.encode('ab ab'), [vocab.get('ab</w>'), vocab.get('ab</w>')]);
      assert.strictEqual(clip.cachedWords, 0, `cacheSize ${cacheSize}`);
    }
    const clip = build(vocabText, mergesText);
    clip.encode('c'.repeat(64));
    assert.strictEqual(clip.cachedWords, 1);
    const long = 'c'.repeat(65) + 'ab';
    assert.deepStrictEqual(clip.encode(long), [...new Array<number>(65).fill(vocab.get('c') as number), vocab.get('ab</w>')]);
    assert.deepStrictEqual(clip.encode(long), clip.encode(long));
    assert.strictEqual(clip.cachedWords, 1);
  });
});
