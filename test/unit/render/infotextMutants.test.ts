import * as assert from 'assert';
import { createInfotext, quoteParameter } from '../../../server/src/render/pipeline/infotext';

/*
 * The infotext a render writes into its PNG, in the cases png.test.ts does not reach: no negative
 * prompt, a parameter written as its bare name, each character that makes A1111 quote a value
 * (`infotext_utils.quote`: a comma, a colon or a line break, as JSON without ASCII escapes), and
 * the strip() of the whole text. Written from the mutants `npm run mutation` found no test for.
 */
describe('infotext: the rarer layouts', () => {
  it('no negative prompt line without a negative prompt; a parameter whose value is its name is written bare', () => {
    assert.strictEqual(
      createInfotext({ prompt: 'a cat', negativePrompt: '', parameters: [['Steps', 20], ['NGMS', 'NGMS'], ['Seed', 7], ['Model hash', undefined]] }),
      'a cat\nSteps: 20, NGMS, Seed: 7',
    );
  });

  it('values are quoted for a comma, a colon or a line break only, as JSON keeping non-ASCII text', () => {
    assert.deepStrictEqual(
      ['plain value', 'a, b', 'a: b', 'a\nb', 'é, ü', 'x;y "z"'].map(quoteParameter),
      ['plain value', '"a, b"', '"a: b"', '"a\\nb"', '"é, ü"', 'x;y "z"'],
    );
  });

  it('the text is stripped at both ends, as A1111 strips it', () => {
    assert.strictEqual(createInfotext({ prompt: '  a cat  ', negativePrompt: '', parameters: [] }), 'a cat');
    assert.strictEqual(createInfotext({ prompt: '', negativePrompt: 'blurry', parameters: [['Steps', 4]] }), 'Negative prompt: blurry\nSteps: 4');
  });
});
