import * as assert from 'assert';
import { splitAnd } from '../../../server/src/service/semantics/multicond';

/**
 * `get_multicond_prompt_list`'s split: `re.split(r"\bAND\b", prompt)`, then `re_weight` on each part
 * (`^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`). The texts and weights are A1111's; the
 * offsets (part, kept text, weight number, each AND) are what the editor's ranges come from.
 */
describe('AND parts with their offsets', () => {
  it('weights after a colon, spaces around them dropped; a part without one weighs 1', () => {
    assert.deepStrictEqual(splitAnd('a AND b:1.5 AND  c : 2 '), {
      subprompts: [
        { text: 'a', weight: 1, start: 0, end: 2, textEnd: 1 },
        { text: ' b', weight: 1.5, start: 5, end: 12, textEnd: 7, weightSpan: { start: 8, end: 11 } },
        { text: '  c', weight: 2, start: 15, end: 23, textEnd: 18, weightSpan: { start: 21, end: 22 } },
      ],
      ands: [2, 12],
    });
  });

  it('AND only as a whole word; a trailing AND leaves an empty last part', () => {
    assert.deepStrictEqual(splitAnd('xAND y ANDz AND'), {
      subprompts: [
        { text: 'xAND y ANDz', weight: 1, start: 0, end: 12, textEnd: 11 },
        { text: '', weight: 1, start: 15, end: 15, textEnd: 15 },
      ],
      ands: [12],
    });
  });

  it('signs, a bare trailing dot and Unicode digits are weights; an exponent is not', () => {
    assert.deepStrictEqual(splitAnd('a:-.5').subprompts, [{ text: 'a', weight: -0.5, start: 0, end: 5, textEnd: 1, weightSpan: { start: 2, end: 5 } }]);
    assert.deepStrictEqual(splitAnd('a :+2.').subprompts, [{ text: 'a', weight: 2, start: 0, end: 6, textEnd: 1, weightSpan: { start: 3, end: 6 } }]);
    assert.deepStrictEqual(splitAnd('é:𝟙').subprompts, [{ text: 'é', weight: 1, start: 0, end: 4, textEnd: 1, weightSpan: { start: 2, end: 4 } }]);
    assert.deepStrictEqual(splitAnd('a:1e2').subprompts, [{ text: 'a:1e2', weight: 1, start: 0, end: 5, textEnd: 5 }]);
  });
});
