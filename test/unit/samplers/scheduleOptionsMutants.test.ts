import * as assert from 'assert';
import { betaPpf, regularizedIncompleteBeta, scheduleSigmas } from '../../../server/src/render/pipeline/samplers/schedules';
import { assertClose as assertWithin, sd } from './closedForm';

/*
 * The schedule types with A1111's options set ("Schedule rho", "Beta schedule alpha/beta"), at one
 * step and at many, and scipy's beta.ppf at the ends of its range. Reference values: the output of
 * scripts/golden/a1111_schedule_options.py (k-diffusion get_sigmas_*, A1111 sd_schedulers.py and
 * scipy.stats.beta.ppf, numpy 2.4 / scipy 1.17), never this project's own output.
 */

const SIGMA_MIN = 0.02916753316555422;
const SIGMA_MAX = 14.614641489691584;

/** Purely relative (floor 1e-300, not 1): the Beta tails and ppf values far below 1 are checked to their own digits. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assertWithin(actual, expected, tol, what, 1e-300);
}

describe('schedule types with options (A1111 sd_schedulers.py against scripts/golden/a1111_schedule_options.py)', () => {
  it('one step: Beta starts at sigma_max and Align Your Steps at its last table entry, as numpy linspace(0, 1, 1) = [0] gives', () => {
    assertClose(scheduleSigmas('beta', 1, sd), [SIGMA_MAX, 0], 1e-12, 'beta 1');
    assertClose(scheduleSigmas('align_your_steps', 1, sd), [0.028999999999999998, 0], 1e-12, 'ays 1');
  });

  it('Beta with 50 steps and alpha 2 ends exactly on sigma_min (linspace sets its last point to 1)', () => {
    const s = scheduleSigmas('beta', 50, sd, { betaAlpha: 2 });
    assert.strictEqual(s.length, 51);
    const picked = [0, 1, 24, 48, 49, 50].map((i) => s[i]);
    assertClose(picked, [14.614641489691584, 14.604480963041409, 12.375985569566923, 2.950468149298861, SIGMA_MIN, 0], 1e-9, 'beta 50');
    // 49 · (1/49) is 0.9999999999999999: computed instead of set, the last q would be 1.1e-16 and
    // ppf(1.1e-16, 2, 0.6) ≈ 1e-8 would lift the last sigma by 1.5e-7.
    assert.strictEqual(s[49], SIGMA_MIN);
  });

  it('Exponential ignores "Schedule rho"; Polyexponential takes it as its power', () => {
    assertClose(
      scheduleSigmas('exponential', 10, sd, { rho: 3 }),
      [14.614641489691587, 7.324880752729828, 3.6712414792765578, 1.8400318659300712, 0.9222267962349554, 0.46222148618273573, 0.23166611853094102, 0.1161114142884614, 0.05819521910911672, 0.02916753316555422, 0],
      1e-12,
      'exponential rho 3',
    );
    assertClose(
      scheduleSigmas('polyexponential', 10, sd, { rho: 2 }),
      [14.614641489691587, 3.9641027957077837, 1.2536189904068002, 0.46222148618273595, 0.19870033969284187, 0.09958891532191051, 0.05819521910911672, 0.03964856977582692, 0.03149427800327025, 0.02916753316555422, 0],
      1e-12,
      'polyexponential rho 2',
    );
  });

  it('Beta takes "Beta schedule alpha" and "beta" (0.3 / 0.7: alpha below 0.5)', () => {
    assertClose(
      scheduleSigmas('beta', 10, sd, { betaAlpha: 0.3, betaBeta: 0.7 }),
      [14.614641489691584, 12.166007643222452, 8.792274535674347, 5.688194809211388, 3.2648268816965444, 1.6130512588937262, 0.6461330694955923, 0.19003971585273577, 0.04516485053731175, SIGMA_MIN, 0],
      1e-9,
      'beta 0.3 0.7',
    );
  });

  it('Beta with beta 5 still starts exactly on sigma_max (ppf(1) is 1, not where I_x rounds to 1)', () => {
    const s = scheduleSigmas('beta', 10, sd, { betaBeta: 5 });
    assertClose(
      s,
      [14.614641489691584, 3.8730115080862704, 2.532722925654062, 1.731418330944138, 1.175465841581674, 0.7673313341035397, 0.4633037885496487, 0.2418781312399752, 0.09450144058516775, SIGMA_MIN, 0],
      1e-9,
      'beta 0.6 5',
    );
    assert.strictEqual(s[0], SIGMA_MAX);
  });

  it('beta.ppf as scipy gives it at the ends: q = 1 with beta 5, an answer far below 2^-200, and q = 1e-10', () => {
    assert.strictEqual(betaPpf(1, 0.6, 5), 1);
    // Alpha 0.01 is A1111's smallest "Beta schedule alpha".
    assertClose([betaPpf(0.01, 0.01, 0.6)], [2.5949609501946912e-200], 1e-9, 'ppf tiny');
    assertClose([betaPpf(1e-10, 0.5, 5)], [1.6511967750062994e-21], 1e-9, 'ppf lower tail');
    assertClose([betaPpf(0.3, 0.3, 0.7)], [0.029860215725725597], 1e-9, 'ppf alpha 0.3');
  });

  it('I_x(a, b) is 0 below the support and 1 above it, as a distribution function', () => {
    assert.strictEqual(regularizedIncompleteBeta(-0.5, 0.6, 0.6), 0);
    assert.strictEqual(regularizedIncompleteBeta(1.5, 0.6, 0.6), 1);
  });
});
