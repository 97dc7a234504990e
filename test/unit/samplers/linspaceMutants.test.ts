import * as assert from 'assert';
import { linspace } from '../../../server/src/render/pipeline/samplers/linspace';

/*
 * The sigma and time grids (Uniform, Exponential, DPM fast's steps, the beta schedule) come from
 * torch.linspace, which fills the first half from the start and the second half back from the
 * end: its grid ends exactly on `end`, and its middle values round differently from start + i·step.
 * Expected: scripts/golden/torch_linspace.py (Debian's torch 1.13, float64 on the CPU); every
 * value must match to the last bit.
 */
describe('linspace: torch.linspace bit for bit', () => {
  const cases: [number, number, number, number[]][] = [
    // An odd count: the middle value comes from the end (start + 2·step would be 0.4).
    [0.1, 0.7, 5, [0.1, 0.25, 0.39999999999999997, 0.5499999999999999, 0.7]],
    // An even count: the first half from 0 (1/3), the second half back from 1 (2/3 rounds up).
    [0, 1, 4, [0, 0.3333333333333333, 0.6666666666666667, 1]],
    [0.3, 2.9, 7, [0.3, 0.7333333333333334, 1.1666666666666667, 1.5999999999999999, 2.033333333333333, 2.466666666666667, 2.9]],
    [999, 0, 7, [999, 832.5, 666, 499.5, 333, 166.5, 0]],
    // One point: the start, not a division by zero.
    [2.5, 9, 1, [2.5]],
  ];
  for (const [start, end, n, expected] of cases) {
    it(`linspace(${start}, ${end}, ${n})`, () => {
      assert.deepStrictEqual(Array.from(linspace(start, end, n)), expected);
    });
  }
});
