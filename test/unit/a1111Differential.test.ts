import * as assert from 'assert';
import { parsePromptAttention } from '../../server/src/service/semantics/attention';
import { multicondPromptList } from '../../server/src/service/semantics/multicond';
import { parseSchedule, promptSchedule, scheduleOverflow } from '../../server/src/service/semantics/schedule';

/**
 * Cases found by differential fuzzing against A1111's prompt_parser.py (lark 1.1.5), minimized,
 * with the values A1111 returned hard-coded (CI has no Python). Plus tricky cases that already
 * passed, kept so they stay that way.
 */

/** Plain JSON form: drops the intWeight marker on pairs, which is checked separately. */
const json = (x: unknown) => JSON.parse(JSON.stringify(x));

const schedules = (text: string) => ({
  base: promptSchedule(text, { baseSteps: 10 }),
  hires: promptSchedule(text, { baseSteps: 10, hiresSteps: 7 }),
  old: promptSchedule(text, { baseSteps: 10, hiresSteps: 7, useOldScheduling: true }),
});

describe('A1111 differential: prompt schedules', () => {
  const cases: [string, boolean, unknown, unknown, unknown][] = [
    // [text, lark parses, steps 10, base 10 + hires 7, hires with old scheduling]
    ['[a:b:c:3] [d:e:5]', true, [[5, '[a:b:c:3] d'], [10, '[a:b:c:3] e']], [[7, '[a:b:c:3] e']], [[5, '[a:b:c:3] d'], [10, '[a:b:c:3] e']]],
    ['a | [b:3]', false, [[10, 'a | [b:3]']], [[7, 'a | [b:3]']], [[10, 'a | [b:3]']]],
    ['x [b:3] \\', false, [[10, 'x [b:3] \\']], [[7, 'x [b:3] \\']], [[10, 'x [b:3] \\']]],
    ['\\\n[a:3]', false, [[10, '\\\n[a:3]']], [[7, '\\\n[a:3]']], [[10, '\\\n[a:3]']]],
    ['[a\\]:3]', true, [[3, ''], [10, 'a\\]']], [[7, 'a\\]']], [[3, ''], [10, 'a\\]']]],
    ['a [b: 3 ]', true, [[3, 'a '], [10, 'a b']], [[7, 'a b']], [[3, 'a '], [10, 'a b']]],
    ['[a:1.5]', true, [[10, '']], [[3, ''], [7, 'a']], [[1, ''], [10, 'a']]],
    ['[a:1.]', true, [[10, '']], [[7, 'a']], [[1, ''], [10, 'a']]],
    ['[a:1e1]', true, [[10, '']], [[7, 'a']], [[10, '']]],
    ['[a:-3]', true, [[10, 'a']], [[7, 'a']], [[10, 'a']]],
    ['[a:+2]', true, [[2, ''], [10, 'a']], [[7, 'a']], [[2, ''], [10, 'a']]],
    [
      '[fe||]male',
      true,
      [[1, 'female'], [2, 'male'], [3, 'male'], [4, 'female'], [5, 'male'], [6, 'male'], [7, 'female'], [8, 'male'], [9, 'male'], [10, 'female']],
      [[1, 'female'], [2, 'male'], [3, 'male'], [4, 'female'], [5, 'male'], [6, 'male'], [7, 'female']],
      [[1, 'female'], [2, 'male'], [3, 'male'], [4, 'female'], [5, 'male'], [6, 'male'], [7, 'female'], [8, 'male'], [9, 'male'], [10, 'female']],
    ],
    // Found by fuzzing: lark's WHITESPACE is Python `\s`, which takes U+001C and U+0085 ...
    ['[a:\x1c3\x85]', true, [[3, ''], [10, 'a']], [[7, 'a']], [[3, ''], [10, 'a']]],
    // ... and not the BOM, which JS `\s` takes: no schedule here, the text stays literal.
    ['[a:\ufeff3]', true, [[10, '[a:\ufeff3]']], [[7, '[a:\ufeff3]']], [[10, '[a:\ufeff3]']]],
  ];
  for (const [text, parses, base, hires, old] of cases) {
    it(JSON.stringify(text), () => {
      assert.strictEqual(parseSchedule(text).ok, parses);
      assert.deepStrictEqual(schedules(text), { base, hires, old });
    });
  }

  it('a number that overflows a float makes A1111 raise OverflowError', () => {
    for (const text of ['[a:1e999]', 'x [[b:c:-1e999]|d]', '[a:[b:1e999]:2]']) {
      assert.ok(scheduleOverflow(parseSchedule(text)), text);
    }
    for (const text of ['[a:1e308]', '[a:99999999999999999999]', 'a 1e999', '|[a:1e999]']) {
      assert.strictEqual(scheduleOverflow(parseSchedule(text)), undefined, text);
    }
  });
});

describe('A1111 differential: parse_prompt_attention', () => {
  const cases: [string, unknown][] = [
    // Found by fuzzing: Python's `\d` and `float()` read any Unicode decimal digit.
    ['(\x0c:𝟙)', [['\x0c', 1.0]]],
    ['(a:١.٥)', [['a', 1.5]]],
    // Found by fuzzing: Python `\s` around the weight and BREAK takes U+001C and U+0085.
    ['(a:\x1c2\x85)', [['a', 2.0]]],
    ['éBREAKb BREAK\x85x', [['éBREAKb', 1.0], ['BREAK', -1], ['x', 1.0]]],
    ['a\x1cBREAK\x1cb', [['a', 1.0], ['BREAK', -1], ['b', 1.0]]],
    ['aBREAKb', [['aBREAKb', 1.0]]],
    ['(a BREAK b)', [['a', 1.1], ['BREAK', -1.1], ['b', 1.1]]],
    ['[BREAK]', [['', 0.9090909090909091], ['BREAK', -0.9090909090909091], ['', 0.9090909090909091]]],
    ['(a:+.5) [b]', [['a', 0.5], [' ', 1.0], ['b', 0.9090909090909091]]],
    ['(a:.)', { error: "ValueError: could not convert string to float: '.'" }],
    ['(a:1.2.3)', { error: "ValueError: could not convert string to float: '1.2.3'" }],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      assert.deepStrictEqual(json(parsePromptAttention(text)), expected);
    });
  }

  it('an unscaled BREAK keeps the int -1, a scaled one is a float', () => {
    const plain = parsePromptAttention('a BREAK b') as { intWeight?: boolean }[];
    assert.strictEqual(plain[1].intWeight, true);
    const scaled = parsePromptAttention('(a BREAK b)') as { intWeight?: boolean }[];
    assert.ok(!scaled[1].intWeight);
  });
});

describe('A1111 differential: get_multicond_prompt_list', () => {
  const cases: [string, unknown][] = [
    // Found by fuzzing: trailing U+0085 / U+001C is Python whitespace and is stripped.
    ['a\x85', [[[[0, 1.0]]], ['a'], { a: 0 }]],
    ['éAND b AND c:2 \x1c', [[[[0, 1.0], [1, 2.0]]], ['éAND b', ' c'], { 'éAND b': 0, ' c': 1 }]],
    // Found by fuzzing: Unicode digits (also astral ones) in the weight.
    ['a:𝟙𝟚', [[[[0, 12.0]]], ['a'], { a: 0 }]],
    ['a :١.٥ AND b:\ufeff2', [[[[0, 1.5], [1, 1.0]]], ['a', ' b:\ufeff2'], { a: 0, ' b:\ufeff2': 1 }]],
    ['x:1.5.5', [[[[0, 1.0]]], ['x:1.5.5'], { 'x:1.5.5': 0 }]],
    ['a:2 AND a :3', [[[[0, 2.0], [1, 3.0]]], ['a', ' a'], { a: 0, ' a': 1 }]],
  ];
  for (const [text, [res_indexes, prompt_flat_list, prompt_indexes]] of cases as [string, unknown[]][]) {
    it(JSON.stringify(text), () => {
      assert.deepStrictEqual(json(multicondPromptList([text])), { res_indexes, prompt_flat_list, prompt_indexes });
    });
  }
});
