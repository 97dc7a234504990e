import * as assert from 'assert';
import { PHILOX_IN_WEBASSEMBLY, philoxWords, philoxWordsJs } from '../../../server/src/render/pipeline/rng/philoxWords';

/*
 * Both Philox word kernels keep one buffer that a call larger than any before must grow (a bigger
 * image or batch than the last render). The buffers live as long as the process, so each test sizes
 * its calls from the buffer it finds (the returned words' `.buffer`), just past it: a few more words
 * each time the test runs in the same process, never a multiple of what is there.
 */

const PAGE = 65536;

describe('Philox words: a call larger than any before gets all its words', () => {
  it('JavaScript rounds: a call that fills the buffer, then one 16 elements past it', () => {
    const capacity = philoxWordsJs(1, 0, 0, 0).buffer.byteLength / 8;
    const filling = Array.from(philoxWordsJs(capacity, 5, 123, 456));
    const past = philoxWordsJs(capacity + 16, 5, 123, 456);
    assert.strictEqual(past.length, 2 * (capacity + 16));
    assert.deepStrictEqual(Array.from(past.subarray(0, 2 * capacity)), filling);
    if (PHILOX_IN_WEBASSEMBLY) {
      const words = Array.from(past);
      assert.deepStrictEqual(Array.from(philoxWords(capacity + 16, 5, 123, 456).subarray(2 * capacity)), words.slice(2 * capacity));
    }
  });

  it("WebAssembly kernel: a call past its memory grows it by the pages the words need and gives the rounds' words", function () {
    if (!PHILOX_IN_WEBASSEMBLY) this.skip();
    const found = philoxWords(1, 0, 0, 0).buffer.byteLength;
    // 8 bytes an element: one element past the memory found.
    const n = found / 8 + 1;
    const words = philoxWords(n, 9, 0xdeadbeef, 7);
    assert.strictEqual(words.length, 2 * n);
    // One 64 KiB page more, not more than the words need (the language server keeps it for its life).
    assert.strictEqual(words.buffer.byteLength, found + PAGE);
    const last = Array.from(words.subarray(2 * (n - 16)));
    assert.deepStrictEqual(last, Array.from(philoxWordsJs(n, 9, 0xdeadbeef, 7).subarray(2 * (n - 16))), `n ${n}: the last 16 elements`);
  });
});
