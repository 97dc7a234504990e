import * as assert from 'assert';
import { expandPromptFile } from '../../../server/src/service/dynamic/expand';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';

/**
 * dynamicprompts' samplers, call for call. Expected values come from CPython 3.11's
 * random.Random driven in dynamicprompts' order (randint for the count, then one weighted
 * choices per pick with list.remove by equality; choice for a wildcard), not from this code.
 */
const library = WildcardLibrary.fromValues({
  times: ['noon', 'dawn', 'dusk', 'dawn'],
  'animals/forest': ['fox', 'heron', 'badger'],
  'animals/sea': ['marlin', 'seal'],
  weather: [{ content: 'rain', weight: 4 }, 'fog', { content: 'sun', weight: 0.5 }],
});

function random(template: string, seed: number, batch: number, negative?: string) {
  const file = `${template}\n${negative !== undefined ? `Negative prompt: ${negative}\n` : ''}Steps: 20, Seed: ${seed}, Size: 512x512, Batch size: ${batch}\n`;
  return expandPromptFile(file, library, { mode: 'random' });
}

function all(template: string) {
  return expandPromptFile(`${template}\nSteps: 20, Seed: 1, Size: 512x512\n`, library, { mode: 'all' }).prompts;
}

describe('dynamic prompts: random mode draws as dynamicprompts does', () => {
  it('one variant per image, Random reseeded with seed + i', () => {
    assert.deepStrictEqual(random('{a|b|c}', 1, 6).prompts, ['b', 'a', 'b', 'a', 'c', 'b']);
  });

  it("picks without replacement remove the first equal weight, as Python's list.remove does", () => {
    // Seed 7 picks c first; dynamicprompts then drops a's weight (the first 1.0), so a keeps b's 3.0.
    assert.deepStrictEqual(random('{2$$ $$1::a|3::b|1::c}', 1, 8).prompts, ['b c', 'a b', 'b a', 'b c', 'b c', 'b a', 'c a', 'b a']);
  });

  it('a count of 0 is allowed, and picks are joined with the separator', () => {
    assert.deepStrictEqual(random('{0-2$$a|b}', 1, 6).prompts, ['', '', '', '', 'a,b', 'b,a']);
  });

  it('a wildcard draws choice() over its values deduplicated and sorted', () => {
    assert.deepStrictEqual(random('__times__', 0, 12).prompts, ['dusk', 'dawn', 'dawn', 'dawn', 'dawn', 'noon', 'noon', 'dusk', 'dawn', 'dusk', 'noon', 'dusk']);
  });

  it('{2$$ and $$__glob__} picks among every value the glob matches', () => {
    assert.deepStrictEqual(random('{2$$ and $$__animals/*__}', 3, 2).prompts, ['heron and badger', 'fox and marlin']);
  });

  it('weighted wildcard values are drawn ten at a time, so later images read the first seed\'s draws', () => {
    // Reseeding does not restart the batch of 10: seeds 8, 9, 10 give draws 2-4 of seed 7.
    assert.deepStrictEqual(random('__weather__', 7, 4).prompts, ['rain', 'fog', 'rain', 'fog']);
  });

  it('${x=!...} is sampled once for the whole batch; ${x=...} at each use', () => {
    assert.deepStrictEqual(random('${c=!{red|blue}}${c} and ${c}', 10, 3).prompts, ['red and red', 'red and red', 'red and red']);
    assert.deepStrictEqual(random('${c={red|blue}}${c} and ${c}', 10, 3).prompts, ['red and red', 'blue and red', 'red and red']);
  });

  it('a variable default, and a variable in a wildcard name', () => {
    assert.deepStrictEqual(random('${missing:plain}', 1, 1).prompts, ['plain']);
    assert.deepStrictEqual(random('${kind=forest}__animals/${kind}__', 1, 1).prompts, ['badger']);
  });

  it('%{wrapper ... $$ inner} puts the inner text at the ellipsis', () => {
    assert.deepStrictEqual(random('%{beautiful ... photo$$ {cat|dog}}', 1, 3).prompts, ['beautiful dog photo', 'beautiful cat photo', 'beautiful dog photo']);
  });

  it('the negative prompt uses the same seeds; an empty one gives "" for each image', () => {
    const r = random('{a|b|c}', 1, 3, '{a|b|c}');
    assert.deepStrictEqual(r.negativePrompts, r.prompts);
    assert.deepStrictEqual(random('{a|b|c}', 1, 2, '').negativePrompts, ['', '']);
  });

  it('a variable used before it is set stops sampling with its range in the file', () => {
    assert.throws(
      () => random('a ${nope} b', 1, 1),
      (e: Error & { span?: { start: number; end: number } }) => e.message.includes("'nope' is not set") && e.span?.start === 2 && e.span.end === 9,
    );
  });
});

describe('dynamic prompts: combinatorial mode lists every combination in its order', () => {
  it('the first part varies slowest; nested variants open in place', () => {
    assert.deepStrictEqual(all('{a|b} {x|{y|z}}'), ['a x', 'a y', 'a z', 'b x', 'b y', 'b z']);
  });

  it('k picks are ordered and distinct; a range lists each size in turn', () => {
    assert.deepStrictEqual(all('{2$$a|b|c}'), ['a,b', 'a,c', 'b,a', 'b,c', 'c,a', 'c,b']);
    assert.deepStrictEqual(all('{0-2$$ + $$a|b}'), ['', 'a', 'b', 'a + b', 'b + a']);
  });

  it('equal options count once, and a wildcard gives its sorted values', () => {
    assert.deepStrictEqual(all('{a|a|b}'), ['a', 'b']);
    assert.deepStrictEqual(all('__times__!'), ['dawn!', 'dusk!', 'noon!']);
  });
});

describe('dynamic prompts: what would never end is stopped with a reason', () => {
  const loop = WildcardLibrary.fromValues({ self: ['again __self__'], pick: ['{2$$__pick__}', 'x'] });

  it('a wildcard whose value uses it again: an error at the wildcard, in both modes', () => {
    for (const mode of ['random', 'all'] as const) {
      assert.throws(
        () => expandPromptFile('a __self__\nSteps: 20, Seed: 1, Size: 512x512\n', loop, { mode }),
        (e: Error & { span?: { start: number; end: number } }) => /opens wildcards more than 50 deep/.test(e.message) && e.span?.start === 2 && e.span.end === 10,
      );
    }
    assert.throws(() => expandPromptFile('{2$$__pick__}\nSteps: 20, Seed: 1, Size: 512x512\n', loop, { mode: 'random' }), /more than 50 deep/);
  });

  it('a Batch size x Batch count past the limit lists the limit and says it stopped', () => {
    const r = expandPromptFile('{a|b}\nSteps: 20, Seed: 1, Size: 512x512, Batch size: 8, Batch count: 100000000\n', library, { mode: 'random', maxPrompts: 5 });
    assert.strictEqual(r.prompts.length, 5);
    assert.strictEqual(r.truncated, true);
  });
});

describe('dynamic prompts: a wildcard of empty values', () => {
  it('is an error, not an endless draw', () => {
    const empty = WildcardLibrary.fromValues({ blank: ['', ''] });
    assert.throws(() => expandPromptFile('a __blank__\nSteps: 20, Seed: 1, Size: 512x512\n', empty, { mode: 'random' }), /Every value of '__blank__' is empty/);
  });
});
