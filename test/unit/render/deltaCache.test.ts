import * as assert from 'assert';
import { DeltaCache, defaultDeltaBudget } from '../../../server/src/render/merge/deltaCache';

describe('DeltaCache: deltas kept between merges within a budget', () => {
  const floats = (n: number) => new Float32Array(n);

  it("older merges' deltas go first; the merge in progress keeps its own and stops caching when full", () => {
    const cache = new DeltaCache(40);
    cache.beginMerge();
    assert.ok(cache.set('a', floats(4)));
    assert.ok(cache.set('b', floats(4)));
    // 48 bytes would not fit, and a and b are this merge's: c is not kept, a and b stay.
    assert.strictEqual(cache.set('c', floats(4)), false);
    assert.deepStrictEqual([cache.size, cache.heldBytes], [2, 32]);
    cache.beginMerge();
    assert.ok(cache.get('b'));
    // The next merge used b but not a: a goes to make room for c.
    assert.ok(cache.set('c', floats(4)));
    assert.deepStrictEqual([cache.get('a'), cache.size, cache.heldBytes], [undefined, 2, 32]);
    assert.ok(cache.get('b') && cache.get('c'));
    assert.strictEqual(cache.set('huge', floats(11)), false);
    assert.strictEqual(cache.size, 2);
  });

  it('setting a key again replaces its delta and its bytes', () => {
    const cache = new DeltaCache(100);
    cache.beginMerge();
    cache.set('a', floats(4));
    const replacement = floats(8);
    cache.set('a', replacement);
    assert.deepStrictEqual([cache.get('a') === replacement, cache.heldBytes], [true, 32]);
  });

  it('the default budget is a sixth of the memory, at most 4 GiB', () => {
    assert.strictEqual(defaultDeltaBudget(12 * 2 ** 30), 2 * 2 ** 30);
    assert.strictEqual(defaultDeltaBudget(64 * 2 ** 30), 4 * 2 ** 30);
  });
});
