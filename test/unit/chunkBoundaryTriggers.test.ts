import * as assert from 'assert';
import { parsePromptDocument } from '../../server/src/service/syntax/document';
import { countTokens } from '../../server/src/service/tokens/tokenCount';
import { wordTokenizer as words } from './tokens/wordTokenizer';
import { checkChunkBoundaries } from '../../server/src/service/features/checks/tokenChecks';
import { Problem } from '../../server/src/service/features/checks/problem';


function straddling(text: string, triggerWords: string[]): [string, number, number, string][] {
  const doc = parsePromptDocument(text);
  const out: Problem[] = [];
  checkChunkBoundaries(doc, [countTokens(doc, 'positive', words, { baseSteps: 20 })!], triggerWords, out);
  return out.map((p) => [p.code, p.span.start, p.span.end, text.slice(p.span.start, p.span.end)]);
}

describe('trigger words across a chunk boundary', () => {
  it('each straddling phrase is reported once, in the text, even when several tags bring the same trigger words', () => {
    // 74 one-token words, then the phrase: 'smart' ends chunk 1 and 'falcon' starts chunk 2.
    const text = 'w '.repeat(74) + 'Smart Falcon, x, <lora:a:1> <lora:a:0.5>';
    assert.deepStrictEqual(straddling(text, ['smart falcon', 'single', 'smart falcon', 'SMART FALCON ']), [
      ['chunk-splits-trigger', 148, 160, 'Smart Falcon'],
    ]);
  });

  it('a character whose lower case is longer (İ) before the phrase does not shift its span', () => {
    const text = 'İ ' + 'w '.repeat(73) + 'smart falcon, x';
    assert.deepStrictEqual(straddling(text, ['smart falcon']), [['chunk-splits-trigger', 148, 160, 'smart falcon']]);
  });

  it('phrases that straddle different boundaries are each reported at their own place', () => {
    const text = 'w '.repeat(74) + 'smart falcon, ' + 'w '.repeat(72) + 'blue sky, x';
    assert.deepStrictEqual(straddling(text, ['blue sky', 'smart falcon']), [
      ['chunk-splits-trigger', 148, 160, 'smart falcon'],
      ['chunk-splits-trigger', 306, 314, 'blue sky'],
    ]);
  });
});
