import * as assert from 'assert';
import { DynamicNode, VariantNode } from '../../../server/src/service/dynamic/ast';
import { countCombinations } from '../../../server/src/service/dynamic/combinations';
import { parseDynamicPrompt } from '../../../server/src/service/dynamic/parser';
import { findDynamicProblems } from '../../../server/src/service/dynamic/problems';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';

function root(text: string, base = 0): DynamicNode {
  const parsed = parseDynamicPrompt(text, base);
  assert.ok(parsed.root, parsed.error?.message);
  return parsed.root;
}

function tokens(text: string): DynamicNode[] {
  const r = root(text);
  return r.kind === 'sequence' ? r.tokens : [r];
}

describe('dynamic prompt parser (dynamicprompts 0.31.0 grammar)', () => {
  it('variants, wildcards and literals with their ranges', () => {
    const [lit, variant, space, wildcard] = tokens('a {tall|short} __animals/forest__');
    assert.deepStrictEqual(lit, { kind: 'literal', text: 'a ', span: { start: 0, end: 2 } });
    assert.strictEqual(variant.kind, 'variant');
    const v = variant as VariantNode;
    assert.deepStrictEqual(v.span, { start: 2, end: 14 });
    assert.deepStrictEqual(v.options.map((o) => [o.value.span, o.weight]), [[{ start: 3, end: 7 }, 1], [{ start: 8, end: 13 }, 1]]);
    assert.deepStrictEqual(space, { kind: 'literal', text: ' ', span: { start: 14, end: 15 } });
    assert.deepStrictEqual(wildcard, { kind: 'wildcard', path: 'animals/forest', pathSpan: { start: 17, end: 31 }, variables: [], span: { start: 15, end: 33 } });
  });

  it('bounds as dynamicprompts reads them: exact, ranges, open ends, separators, sorted', () => {
    const bounds = (text: string) => {
      const v = root(text) as VariantNode;
      return [v.min, v.max, v.separator, v.bound?.span];
    };
    assert.deepStrictEqual(bounds('{2$$a|b|c}'), [2, 2, ',', { start: 1, end: 2 }]);
    assert.deepStrictEqual(bounds('{1-3$$ and $$a|b|c}'), [1, 3, ' and ', { start: 1, end: 4 }]);
    assert.deepStrictEqual(bounds('{-2$$a|b|c}'), [1, 2, ',', { start: 1, end: 3 }]);
    assert.deepStrictEqual(bounds('{2-$$a|b|c}'), [2, 3, ',', { start: 1, end: 3 }]);
    assert.deepStrictEqual(bounds('{3-1$$a|b|c}'), [1, 3, ',', { start: 1, end: 4 }]);
    assert.deepStrictEqual(bounds('{2$$|$$a|b|c}'), [2, 2, '|', { start: 1, end: 2 }]);
  });

  it('weights: reals and integers before ::, else the text is the option', () => {
    const v = root('{0.5::a|2::b|.25::c|x::d|-1::e}') as VariantNode;
    assert.deepStrictEqual(v.options.map((o) => o.weight), [0.5, 2, 0.25, 1, 1]);
    assert.deepStrictEqual(v.options[0].weightSpan, { start: 1, end: 6 });
    assert.deepStrictEqual(v.options.slice(3).map((o) => (o.value as { text: string }).text), ['x::d', '-1::e']);
  });

  it('whitespace: dropped before an option, kept after it, as there', () => {
    const v = root('{ a | b }') as VariantNode;
    assert.deepStrictEqual(v.options.map((o) => (o.value as { text: string }).text), ['a ', 'b ']);
  });

  it('comments: # to the end of the line, and // or /* */ where a token starts; pieces joined by a space', () => {
    assert.deepStrictEqual(root('a # note\nb'), { kind: 'literal', text: 'a  \nb', span: { start: 0, end: 10 } });
    const parsed = parseDynamicPrompt('{x|y} // why\nz');
    assert.deepStrictEqual(parsed.comments, [{ start: 6, end: 12 }]);
    // Inside a literal '//' is text (the literal reads on).
    assert.deepStrictEqual(root('http://a'), { kind: 'literal', text: 'http://a', span: { start: 0, end: 8 } });
  });

  it('tabs are expanded to 8 columns (pyparsing does), ranges stay in the original text', () => {
    assert.deepStrictEqual(root('a\tb'), { kind: 'literal', text: 'a       b', span: { start: 0, end: 3 } });
  });

  it('variables: assignment, immediate assignment, access with default; wildcard parameters; wrap', () => {
    const [assign, access] = tokens('${c=!{a|b}}${c:x}');
    assert.strictEqual(assign.kind === 'assignment' && assign.immediate && assign.name, 'c');
    assert.deepStrictEqual(assign.kind === 'assignment' && assign.nameSpan, { start: 2, end: 3 });
    assert.deepStrictEqual(access.kind === 'access' && [access.name, access.default, access.span], ['c', { kind: 'literal', text: 'x', span: { start: 15, end: 16 } }, { start: 11, end: 17 }]);
    const w = root('__pet(kind=cat, color={red|blue})__');
    assert.deepStrictEqual(w.kind === 'wildcard' && w.variables.map((v) => [v.name, v.value.kind, v.value.span]), [
      ['kind', 'literal', { start: 11, end: 14 }],
      ['color', 'variant', { start: 22, end: 32 }],
    ]);
    const wrap = root('%{big ... cat$$ {a|b}}');
    assert.strictEqual(wrap.kind, 'wrap');
  });

  it('a base offset moves every range', () => {
    const v = root('{a|b}', 100) as VariantNode;
    assert.deepStrictEqual([v.span, v.options[1].span], [{ start: 100, end: 105 }, { start: 103, end: 104 }]);
  });
});

describe('dynamic prompt problems', () => {
  const library = WildcardLibrary.fromValues({ 'animals/forest': ['fox'], colors: ['red'], 'hair/long': ['braid'] });
  const problems = (text: string) => findDynamicProblems(text, 0, library).map((p) => [p.code, p.severity, p.span, p.message]);

  it('an unclosed { stops dynamicprompts: error at the brace', () => {
    assert.deepStrictEqual(problems('a {b|c'), [['dynamic-unbalanced-brace', 'error', { start: 2, end: 3 }, "Unbalanced braces: this '{' is never closed."]]);
  });

  it("a stray } is kept as text: a warning at it", () => {
    assert.deepStrictEqual(problems('a} {b|c}'), [['dynamic-unbalanced-brace', 'warning', { start: 1, end: 2 }, "Unbalanced braces: this '}' closes no '{'; dynamicprompts keeps it as text."]]);
  });

  it('a lone $ or %, and a wildcard without its closing __, are errors at the character', () => {
    assert.deepStrictEqual(problems('cost $5').map((p) => [p[0], p[2]]), [['dynamic-syntax', { start: 5, end: 6 }]]);
    assert.deepStrictEqual(problems('{a|50%}').map((p) => [p[0], p[2]]), [['dynamic-syntax', { start: 5, end: 6 }]]);
    assert.deepStrictEqual(problems('a __colors b').map((p) => [p[0], p[2], p[3]]), [['dynamic-syntax', { start: 2, end: 12 }, "This wildcard has no closing '__'."]]);
  });

  it('an empty option: information at its place', () => {
    assert.deepStrictEqual(problems('{a||b}'), [['dynamic-empty-option', 'information', { start: 3, end: 3 }, 'Empty option: dynamicprompts picks it like the others and writes nothing in its place.']]);
  });

  it('impossible ranges: more than the options, or min above max', () => {
    assert.deepStrictEqual(problems('{4$$a|b}'), [['dynamic-impossible-range', 'warning', { start: 1, end: 2 }, 'Impossible range: 4 of 2 options; dynamicprompts picks all 2 instead.']]);
    assert.deepStrictEqual(problems('{3-1$$a|b|c}').map((p) => [p[0], p[2], p[3]]), [['dynamic-impossible-range', { start: 1, end: 4 }, 'Impossible range 3-1: dynamicprompts swaps it and picks 1 to 3.']]);
    assert.deepStrictEqual(problems('{1-5$$a|b}').map((p) => p[3]), ['Impossible range: up to 5 of 2 options; dynamicprompts picks at most 2.']);
    assert.deepStrictEqual(problems('{2$$a|b}'), []);
  });

  it('an unknown wildcard, with the closest name; a glob or a **/ match is known', () => {
    assert.deepStrictEqual(problems('__colours__'), [['wildcard-unknown', 'warning', { start: 2, end: 9 }, "No wildcard file gives '__colours__': dynamicprompts writes it as it stands. Did you mean 'colors'?"]]);
    assert.deepStrictEqual(problems('__animals/*__ __forest__ __hair/*__ __long__'), []);
    const [p] = findDynamicProblems('x __colours__', 10, library);
    assert.deepStrictEqual([p.span, p.suggestion], [{ start: 14, end: 21 }, 'colors']);
  });
});

describe('combination count', () => {
  const library = WildcardLibrary.fromValues({ times: ['dawn', 'dusk', 'noon'], pair: ['{a|b}', 'c'] });
  const count = (text: string) => countCombinations(root(text), library);

  it('counts what combinatorial mode lists', () => {
    assert.strictEqual(count('plain'), 1);
    assert.strictEqual(count('{a|b} {x|{y|z}}'), 6);
    assert.strictEqual(count('{2$$a|b|c}'), 6);
    assert.strictEqual(count('{0-2$$a|b}'), 5);
    assert.strictEqual(count('__times__ over {hills|lakes}'), 6);
    assert.strictEqual(count('__pair__'), 3);
    assert.strictEqual(count('{2$$__times__}'), 6);
  });
});

describe('dynamic prompt limits', () => {
  it('nesting deeper than 64 is an error, not a stack overflow', () => {
    const deep = '{'.repeat(5000) + 'a' + '}'.repeat(5000);
    const parsed = parseDynamicPrompt(deep);
    assert.strictEqual(parsed.root, undefined);
    assert.match(parsed.error!.message, /^Nested more than 64 levels deep/);
    assert.ok(parseDynamicPrompt('{'.repeat(60) + 'a' + '}'.repeat(60)).root);
  });

  it('a wildcard that uses itself counts as endless', () => {
    const loop = WildcardLibrary.fromValues({ self: ['again __self__', 'x'] });
    assert.strictEqual(countCombinations(root('__self__'), loop), Infinity);
  });
});
