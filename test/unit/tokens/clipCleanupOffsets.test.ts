import * as assert from 'assert';
import { forEachPreToken } from '../../../server/src/service/tokens/clipTokenizer';

/**
 * Where a pre-token points back to when cleanup rewrote the text under it. The editor underlines and
 * hovers by these ranges, so a wrong range puts a 75-token boundary or a trigger-word match on the
 * wrong characters. Token strings are checked against Python in clipCleanupGolden.test.ts; the
 * ranges here follow the rules in clipTokenizer.ts's header, worked out by hand.
 */
function preTokens(text: string): [string, number, number][] {
  const tokens: [string, number, number][] = [];
  forEachPreToken(text, (token, start, end) => tokens.push([token, start, end]));
  return tokens;
}

describe('CLIP pre-token ranges through cleanup', () => {
  it('an NFC composition maps to its own base and marks; the neighbours keep their own ranges', () => {
    assert.deepStrictEqual(preTokens('x,e\u0301'), [
      ['x', 0, 1],
      [',', 1, 2],
      ['\u00e9', 2, 4],
    ]);
  });

  it('marks NFC reorders (dot below before acute) still form one cluster with their base', () => {
    // NFC(e + U+0301 + U+0323) = U+1EB9 U+0301: both units map to the three original ones.
    assert.deepStrictEqual(preTokens(' x,e\u0301\u0323'), [
      ['x', 1, 2],
      [',', 2, 3],
      ['\u1eb9', 3, 6],
      ['\u0301', 3, 6],
    ]);
  });

  it('marks at the start of a run are a cluster of their own', () => {
    assert.deepStrictEqual(preTokens(' \u0301\u0323x,y'), [
      ['\u0323\u0301', 1, 3],
      ['x', 3, 4],
      [',', 4, 5],
      ['y', 5, 6],
    ]);
  });

  it('Hangul jamo compose letter with letter: the whole whitespace-free run is one stretch', () => {
    assert.deepStrictEqual(preTokens('ab  x,\u1100\u1161 c'), [
      ['ab', 0, 2],
      ['x', 4, 8],
      [',', 4, 8],
      ['\uac00', 4, 8],
      ['c', 9, 10],
    ]);
  });

  it('NFC that grows the text (U+2ADC is U+2ADD U+0338) keeps every later range right', () => {
    assert.deepStrictEqual(preTokens('x\u2adc,y z\u00c9'), [
      ['x', 0, 1],
      ['\u2add\u0338,', 1, 3],
      ['y', 3, 4],
      ['z\u00e9', 5, 7],
    ]);
  });

  it('something that is not a string gives no pre-tokens and does not throw', () => {
    for (const notText of [undefined, null, 42, {}, ['a']]) assert.deepStrictEqual(preTokens(notText as unknown as string), []);
  });
});
