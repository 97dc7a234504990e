import * as assert from 'assert';
import { PyRandom } from '../../../server/src/service/dynamic/pyRandom';

/**
 * Values printed by CPython 3.11.7's own `random.Random(seed)`, in this order per seed:
 * random() x3; getrandbits(1, 5, 32, 33, 53); randint(1,1), randint(0,5), randint(1,3);
 * choice('abcdefg'); choices('xyz', weights=[3,1,0.5], k=4); choices('xyz', cum_weights=[1,5,6], k=10);
 * shuffle(range(10)). Seeds past 2**32 and 2**64 check init_by_array over several words.
 */
const CPYTHON: { seed: number | bigint; random: number[]; getrandbits: number[]; randint: number[]; choice: string; choices: string; cumChoices: string; shuffle: number[] }[] = [
  { seed: 0, random: [0.8444218515250481, 0.7579544029403025, 0.420571580830845], getrandbits: [0, 30, 2195908194, 2087043557, 7059830666782643], randint: [1, 3, 2], choice: 'e', choices: 'zxxx', cumChoices: 'xyzyyyxxxz', shuffle: [0, 9, 4, 8, 6, 3, 2, 1, 7, 5] },
  { seed: 5, random: [0.6229016948897019, 0.7417869892607294, 0.7951935655656966], getrandbits: [1, 26, 3177840169, 7095422110, 261256547184933], randint: [1, 1, 3], choice: 'a', choices: 'zxxx', cumChoices: 'yyxyyzyxyx', shuffle: [3, 8, 4, 6, 5, 0, 1, 2, 7, 9] },
  { seed: 42, random: [0.6394267984578837, 0.025010755222666936, 0.27502931836911926], getrandbits: [0, 4, 3163119785, 4735180711, 8036041610782387], randint: [1, 4, 2], choice: 'a', choices: 'xxxx', cumChoices: 'yyyyyyxyyy', shuffle: [4, 9, 1, 7, 8, 6, 0, 5, 3, 2] },
  { seed: 31337, random: [0.6799777634765871, 0.170737440152662, 0.949129757244903], getrandbits: [0, 6, 3551084662, 772076153, 4997190612992689], randint: [1, 4, 2], choice: 'f', choices: 'xxxx', cumChoices: 'yzyyyxyyzx', shuffle: [7, 2, 4, 1, 3, 8, 6, 0, 9, 5] },
  { seed: 4294967303, random: [0.22550888929893187, 0.35860096918797, 0.7992331241239754], getrandbits: [1, 12, 3960919122, 7106140604, 584205960069029], randint: [1, 4, 3], choice: 'f', choices: 'xxyx', cumChoices: 'yxyxyyzyyy', shuffle: [4, 6, 2, 9, 8, 0, 1, 5, 3, 7] },
  { seed: 18446744073709551619n, random: [0.9129684455472157, 0.9226991467077957, 0.8296235909088164], getrandbits: [0, 31, 819481303, 1136251840, 3424078096111690], randint: [1, 4, 1], choice: 'g', choices: 'yxxx', cumChoices: 'yxxyyyxyyy', shuffle: [0, 8, 2, 4, 1, 7, 6, 9, 5, 3] },
];

describe('PyRandom (CPython random.Random)', () => {
  for (const expected of CPYTHON) {
    it(`seed ${expected.seed}: the same draws as CPython, in order`, () => {
      const r = new PyRandom(expected.seed);
      assert.deepStrictEqual([r.random(), r.random(), r.random()], expected.random);
      assert.deepStrictEqual([1, 5, 32, 33, 53].map((k) => r.getrandbits(k)), expected.getrandbits);
      assert.deepStrictEqual([r.randint(1, 1), r.randint(0, 5), r.randint(1, 3)], expected.randint);
      assert.strictEqual(r.choice([...'abcdefg']), expected.choice);
      assert.strictEqual(r.choices([...'xyz'], { weights: [3, 1, 0.5], k: 4 }).join(''), expected.choices);
      assert.strictEqual(r.choices([...'xyz'], { cumWeights: [1, 5, 6], k: 10 }).join(''), expected.cumChoices);
      const a = Array.from({ length: 10 }, (_, i) => i);
      r.shuffle(a);
      assert.deepStrictEqual(a, expected.shuffle);
    });
  }

  it('known first values: Random(5).random() and Random(0).random()', () => {
    assert.strictEqual(new PyRandom(5).random(), 0.6229016948897019);
    assert.strictEqual(new PyRandom(0).random(), 0.8444218515250481);
  });

  it('a negative seed is its absolute value, and reseeding restarts the sequence', () => {
    const r = new PyRandom(-42);
    const first = r.random();
    assert.strictEqual(first, new PyRandom(42).random());
    r.random();
    r.seed(42);
    assert.strictEqual(r.random(), first);
  });

  it('refuses what CPython refuses: an empty choice, an empty range, weights that add up to 0', () => {
    const r = new PyRandom(1);
    assert.throws(() => r.choice([]), /empty sequence/);
    assert.throws(() => r.randint(3, 2), /empty range/);
    assert.throws(() => r.choices(['a', 'b'], { weights: [0, 0] }), /greater than zero/);
  });
});
