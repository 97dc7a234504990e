import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { forEachPreToken } from '../../../server/src/service/tokens/clipTokenizer';

/**
 * The CLIP tokenizer's text cleanup against Python itself: test/golden/clip_pretokens.json holds the
 * pre-tokens OpenAI's simple_tokenizer makes (Python 3.11's html.unescape twice, str.strip, `\s+`,
 * lower(), the `regex` module's pre-split) for 1,512 inputs: every numeric character reference class
 * (the replaced 0x80..0x9F, removed controls and noncharacters, surrogates, past U+10FFFF, 400
 * digits), every legacy entity with and without `;` and before letters, the kept `;`-only entities,
 * each whitespace and separator character at the ends and in the middle, contractions, NFC and
 * lower-casing. Written by scripts/golden/clip_pretokens.py (ftfy replaced by NFC, as here).
 */
interface Golden {
  python: string;
  unicode: string;
  cases: [string, string[]][];
}
const golden = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '../../../../test/golden/clip_pretokens.json'), 'utf8'),
) as Golden;

function preTokens(text: string): string[] {
  const tokens: string[] = [];
  forEachPreToken(text, (token) => tokens.push(token));
  return tokens;
}

describe('CLIP text cleanup and pre-split against Python (simple_tokenizer, html.unescape, regex)', () => {
  it(`all ${golden.cases.length} inputs give Python's pre-tokens`, () => {
    assert.strictEqual(golden.cases.length, 1512);
    const wrong = golden.cases
      .map(([text, expected]) => ({ text, expected, actual: preTokens(text) }))
      .filter((c) => JSON.stringify(c.actual) !== JSON.stringify(c.expected));
    assert.deepStrictEqual(wrong.slice(0, 5), [], `${wrong.length} inputs differ from Python`);
  });

  it('spot checks, in Python and here: Windows-1252 charrefs, removed controls, surrogates, the prefix rule, strip', () => {
    // Python (the golden file) and the tokenizer must both give the expected pre-tokens: a regenerated
    // golden file that lost one of these rules fails here too.
    const check = (text: string, expected: string[]) => {
      assert.deepStrictEqual(golden.cases.find(([t]) => t === text)?.[1], expected, `Python, ${JSON.stringify(text)}`);
      assert.deepStrictEqual(preTokens(text), expected, `here, ${JSON.stringify(text)}`);
    };
    check('q&#128;z', ['q', '€', 'z']); // Windows-1252 for 0x80..0x9F
    check('q&#1;z', ['qz']); // a removed control joins the letters
    check('q&#55296;z', ['q', '\ufffd', 'z']); // a surrogate is U+FFFD
    check('q&copyzz', ['q', '©', 'zz']); // longest legacy prefix
    check('q &hellip z', ['q', '&', 'hellip', 'z']); // needs its `;`
    check('\x1ca\x1cb\x1c', ['a', '\x1c', 'b']); // stripped at the ends only
  });
});
