import * as assert from 'assert';
import { attentionPairs, EXACT_WORK_LIMIT, parseAttention } from '../../../server/src/service/semantics/attention';

/** [text, weight] of each segment, in order. */
const segments = (text: string) => parseAttention(text).segments.map((s) => [s.text, s.weight]);

/**
 * `(s0 (s1 … (sN-1 :mN-1) tN-1 … :m1) t1 :m0) t0 ` then `tail`: segment si is inside groups 0..i,
 * ti only inside groups 0..i-1. A1111 multiplies every segment by the multipliers of the groups it
 * is in, so si gets m0·…·mi and ti gets m0·…·mi-1. The multipliers are 2 and 0.5 (exact in binary,
 * so any order of multiplication gives the same value) in runs of three: the products walk 1, 2, 4,
 * 8 and back, and a weight that leaks past a `)` shows as a wrong power of two. The tail's first
 * text joins ` t0 ` (weight 1), so `expected` stops before t0.
 */
function nestedChain(depth: number, tail: string) {
  const multipliers = Array.from({ length: depth }, (_, i) => (Math.floor(i / 3) % 2 === 0 ? 2 : 0.5));
  let text = '';
  for (let i = 0; i < depth; i++) text += `(s${i} `;
  for (let i = depth - 1; i >= 0; i--) text += `:${multipliers[i]}) t${i} `;
  text += tail;
  const inner: [string, number][] = [];
  const outer: [string, number][] = [];
  let product = 1;
  for (let i = 0; i < depth; i++) {
    if (i > 0) outer.unshift([` t${i} `, product]);
    product *= multipliers[i];
    inner.push([`s${i} `, product]);
  }
  return { text, expected: [...inner, ...outer] };
}

describe('parse_prompt_attention on prompts past the exact-multiplication limit', () => {
  // Group i spans 2·(depth - i) - 1 segments: depth² multiplications in all, past the limit.
  const depth = 2300;

  it('the chain is big enough to take the one-sweep path', () => {
    assert.ok(depth * depth > EXACT_WORK_LIMIT, `${depth * depth} multiplications`);
  });

  it('each segment gets exactly the product of the groups it is in, and nothing after a group closes', () => {
    const { text, expected } = nestedChain(depth, 'tail');
    assert.deepStrictEqual(segments(text), [...expected, [' t0 tail', 1]]);
  });

  it('a weight of 0 zeroes its own text only; [ ] and unclosed brackets as in a short prompt', () => {
    const { text, expected } = nestedChain(depth, 'a (y:0) b [w] c (d');
    assert.deepStrictEqual(segments(text), [...expected, [' t0 a ', 1], ['y', 0], [' b ', 1], ['w', 1 / 1.1], [' c ', 1], ['d', 1.1]]);
  });

  it('BREAK keeps the int -1 outside brackets and is scaled inside them', () => {
    const { text } = nestedChain(depth, 'a BREAK b (c BREAK d)');
    const pairs = attentionPairs(parseAttention(text)) as ([string, number] & { intWeight?: boolean })[];
    assert.deepStrictEqual(
      pairs.slice(-7).map((p) => [p[0], p[1], p.intWeight === true]),
      [
        [' t1 ', 2, false],
        [' t0 a', 1, false],
        ['BREAK', -1, true],
        ['b ', 1, false],
        ['c', 1.1, false],
        ['BREAK', -1.1, false],
        ['d', 1.1, false],
      ],
    );
  });
});
