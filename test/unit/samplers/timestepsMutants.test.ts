import * as assert from 'assert';
import { createSampler } from '../../../server/src/render/pipeline/schedulers';
import { a1111DdimTimesteps } from '../../../server/src/render/pipeline/samplers/timesteps';
import { sd } from './closedForm';

/*
 * A1111's DDIM timesteps (`CompVisSampler.get_timesteps`: clip(range(0, T, T // steps) + 1, 0, T − 1))
 * at the ends of the step range, the messages for step counts it cannot take, and the sigmas a
 * timestep sampler reports (Hires. fix starts its second pass from sigmas[0]). Reference values:
 * scripts/golden/a1111_schedule_options.py.
 */

describe('A1111 DDIM timesteps and the timestep samplers\' sigmas (against scripts/golden/a1111_schedule_options.py)', () => {
  it('600 and 1000 steps both stride 1: 1000 timesteps 1, 2, ..., 999, 999', () => {
    for (const steps of [600, 1000]) {
      const ts = a1111DdimTimesteps(steps);
      assert.strictEqual(ts.length, 1000, `${steps} steps`);
      assert.deepStrictEqual(Array.from(ts.subarray(0, 3)), [1, 2, 3], `${steps} steps: first`);
      assert.deepStrictEqual(Array.from(ts.subarray(997)), [998, 999, 999], `${steps} steps: last`);
    }
  });

  it('a step count that is not a positive integer, or above T, is a RangeError that names it', () => {
    assert.throws(() => a1111DdimTimesteps(0), { name: 'RangeError', message: 'steps must be a positive integer, got 0' });
    assert.throws(() => a1111DdimTimesteps(2.5), { name: 'RangeError', message: 'steps must be a positive integer, got 2.5' });
    assert.throws(() => a1111DdimTimesteps(1001), { name: 'RangeError', message: 'DDIM needs steps ≤ 1000, got 1001' });
  });

  it('DDIM for 10 steps reports sigma = sqrt((1 − ᾱ) / ᾱ) at its timesteps, from the top (901) down to 1', () => {
    const expected = [
      8.390684659747626, 5.134431117052251, 3.3477636096941645, 2.2928537665117337, 1.6236921408198777, 1.1682159800053842, 0.8356527652796634,
      0.574050288114691, 0.34618674464086013, 0.04131447785534563,
    ];
    for (const kind of ['ddim', 'plms'] as const) {
      const sigmas = createSampler(kind, 10, 'automatic', sd).sigmas;
      assert.strictEqual(sigmas.length, expected.length, `${kind}: length`);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(sigmas[i] - expected[i]) <= 1e-12 * expected[i], `${kind} sigmas[${i}]: ${sigmas[i]} vs ${expected[i]}`);
      }
    }
  });
});
