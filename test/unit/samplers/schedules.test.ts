import * as assert from 'assert';
import { createSampler } from '../../../server/src/render/pipeline/schedulers';
import { betaPpf, scheduleSigmas } from '../../../server/src/render/pipeline/samplers/schedules';
import { assertClose, sd } from './closedForm';

/*
 * Every A1111 schedule type for 10 steps over the SD 1.5 sigma table, against
 * scripts/golden/a1111_samplers.py (A1111 sd_schedulers.py and k-diffusion's get_sigmas_*
 * transcribed in numpy; the Beta schedule through scipy.stats.beta.ppf, as A1111 calls it).
 */

describe('schedule types (A1111 sd_schedulers.py, SD 1.5 table, 10 steps)', () => {
  const cases: [string, Parameters<typeof scheduleSigmas>[0], number[]][] = [
    // k-diffusion get_sigmas_polyexponential(n, sigma_min, sigma_max, rho=1): exp(ramp^rho·(log max − log min) + log min)
    ['Polyexponential', 'polyexponential', [14.614641489691587, 7.324880752729827, 3.671241479276559, 1.8400318659300712, 0.9222267962349554, 0.46222148618273573, 0.2316661185309409, 0.11611141428846145, 0.05819521910911672, 0.02916753316555422, 0]],
    // sgm_uniform: t_to_sigma over linspace(t(σmax), t(σmin), n + 1)[:-1]
    ['SGM Uniform', 'sgm_uniform', [14.614641489691587, 8.307172272681042, 5.092407551448319, 3.325069103750952, 2.2797302428065356, 1.615580299419396, 1.162864521635755, 0.8318836846867752, 0.5711888863403721, 0.3437048640358786, 0]],
    // kl_optimal: tan(i/n·atan(σmin) + (1 − i/n)·atan(σmax)), n + 1 entries ending at σmin (no 0)
    ['KL Optimal', 'kl_optimal', [14.614641489691563, 4.565037505189959, 2.632888459913439, 1.7864457582933169, 1.2947676904734124, 0.9615883886768616, 0.7116271525225588, 0.5094197379481759, 0.33563772284618104, 0.17834680724935087, 0.02916753316555422]],
    // get_align_your_steps_sigmas: the SD 1.5 table log-linearly interpolated to 10 points
    ['Align Your Steps', 'align_your_steps', [14.614999999999997, 6.113513662022134, 3.565113735016383, 2.3938734813363083, 1.6499555142538875, 1.1357873100664773, 0.7425182963215853, 0.44500744157898225, 0.16920512418887718, 0.028999999999999998, 0]],
    // simple_scheduler: sigmas[-(1 + int(x·T/n))]
    ['Simple', 'simple', [14.614641489691584, 8.302803301537729, 5.08776311101631, 3.32108308135247, 2.2764630071141876, 1.6128862427990451, 1.1605783158440892, 0.8298595442242795, 0.5692848990548915, 0.34167387262558707, 0]],
    // normal_scheduler: t_to_sigma over linspace(t(σmax), t(σmin), n)
    ['Normal', 'normal', [14.614641489691587, 7.83988277705339, 4.609174202218731, 2.9183070789287315, 1.9501614866955852, 1.344927768083304, 0.9323580040521571, 0.6249769355114269, 0.3686577740175715, 0.02916753316555422, 0]],
    // ddim_scheduler: sigmas[1], sigmas[1 + T//n], ..., reversed
    ['DDIM', 'ddim', [8.390684659747626, 5.134431117052251, 3.3477636096941645, 2.2928537665117337, 1.6236921408198777, 1.1682159800053842, 0.8356527652796634, 0.574050288114691, 0.34618674464086013, 0.04131447785534563, 0]],
    // beta_scheduler: σmin + beta.ppf(1 − i/(n−1), 0.6, 0.6)·(σmax − σmin)
    ['Beta', 'beta', [14.614641489691584, 13.92778501126455, 12.490980479293853, 10.597608109773427, 8.442437002553044, 6.2013720203040945, 4.046200913083712, 2.1528285435632872, 0.7160240115925885, 0.02916753316555422, 0]],
  ];
  for (const [label, name, expected] of cases) {
    it(`${label}: within 1e-9 relative`, () => assertClose(scheduleSigmas(name, 10, sd), expected, 1e-9, label));
  }

  it('Align Your Steps: 11 steps is the table itself; SDXL has its own table (20 steps)', () => {
    assertClose(scheduleSigmas('align_your_steps', 11, sd), [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029, 0], 0, 'ays 11');
    assertClose(
      scheduleSigmas('align_your_steps', 20, sd, { sdxl: true }),
      [
        14.614999999999997, 9.3971453314045, 6.145939191214893, 4.685298875383433, 3.559793963040521, 2.6684957241566143, 2.020017669156675,
        1.5644205440312509, 1.2225871634965273, 0.9684966460829607, 0.7676932423779946, 0.6089037119674727, 0.49242789921884983,
        0.4034212427515701, 0.31783813849232684, 0.24625263288706298, 0.1722286380697194, 0.11741328926855914, 0.05933110583363836,
        0.028999999999999998, 0,
      ],
      1e-9,
      'ays sdxl',
    );
  });

  it('DDIM for 30 steps has 31 sigmas (stride 33 does not divide 1000), as in A1111', () => {
    const s = scheduleSigmas('ddim', 30, sd);
    assert.strictEqual(s.length, 32);
    assertClose(s.subarray(0, 3), [13.925848747225718, 11.4768465283227, 9.543582499542158], 1e-9, 'ddim 30');
    assert.strictEqual(createSampler('euler', 30, 'ddim', sd).steps, 31);
  });

  it('beta.ppf(q, 0.6, 0.6) as scipy gives it (within 1e-9)', () => {
    const qs = [0.001, 0.1, 0.25, 0.5, 0.9, 0.999];
    const expected = [1.855873851745199e-5, 0.03958440558878085, 0.17568037865269498, 0.5000000000000001, 0.9604155944112192, 0.9999814412614826];
    assertClose(
      qs.map((q) => betaPpf(q, 0.6, 0.6)),
      expected,
      1e-9,
      'ppf',
    );
    assert.strictEqual(betaPpf(0, 0.6, 0.6), 0);
    assert.strictEqual(betaPpf(1, 0.6, 0.6), 1);
  });

  it('Schedule min/max sigma and rho options replace the model values (Karras)', () => {
    const s = scheduleSigmas('karras', 5, sd, { sigmaMin: 0.1, sigmaMax: 10, rho: 3 });
    assertClose([s[0], s[4], s[5]], [10, 0.1, 0], 1e-12, 'karras overrides');
    // rho 3: the midpoint is ((10^(1/3) + 0.1^(1/3)) / 2)^3.
    assertClose([s[2]], [((10 ** (1 / 3) + 0.1 ** (1 / 3)) / 2) ** 3], 1e-12, 'rho');
  });

  it('every schedule type runs every k-diffusion sampler for 3 steps without error', async () => {
    const x = new Float32Array(4).fill(1);
    for (const schedule of ['uniform', 'karras', 'exponential', 'polyexponential', 'sgm_uniform', 'kl_optimal', 'align_your_steps', 'simple', 'normal', 'ddim', 'beta'] as const) {
      for (const kind of ['euler', 'heun', 'dpmpp_2m', 'dpmpp_3m_sde', 'restart', 'lms'] as const) {
        const s = createSampler(kind, 3, schedule, sd);
        const out = await s.sample(Float32Array.from(x, (v) => v * s.initNoiseSigma), {
          unet: async (input) => ({ guided: input.map((v) => 0.5 * v), uncond: input }),
          randn: (o) => o.fill(0.1),
          seed: 3,
        });
        assert.ok(out.every(Number.isFinite), `${kind} × ${schedule}: ${Array.from(out)}`);
      }
    }
  });
});
