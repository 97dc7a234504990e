import * as assert from 'assert';
import { resolveSamplerName, SamplerNameError } from '../../../server/src/render/pipeline/samplerNames';

/*
 * Every "Schedule type" A1111 writes (label, name and alias, from `sd_schedulers.schedulers`), every
 * pre-1.9 sampler alias that carried its schedule, the samplers whose steps count two model calls
 * (A1111's `second_order`, which prompt editing counts in), and the messages for names that are none
 * of these. Written from the mutants `npm run mutation` found no test for.
 */
const SCHEDULES: [label: string, name: string, alias?: string][] = [
  ['Automatic', 'automatic'],
  ['Uniform', 'uniform'],
  ['Karras', 'karras'],
  ['Exponential', 'exponential'],
  ['Polyexponential', 'polyexponential'],
  ['SGM Uniform', 'sgm_uniform', 'SGMUniform'],
  ['KL Optimal', 'kl_optimal'],
  ['Align Your Steps', 'align_your_steps'],
  ['Simple', 'simple'],
  ['Normal', 'normal'],
  ['DDIM', 'ddim'],
  ['Beta', 'beta'],
];

describe('sampler names and schedule types: every one A1111 writes', () => {
  it('each schedule type by its label, its name or its alias, as a Schedule type and as a sampler-name suffix', () => {
    for (const [label, name, alias] of SCHEDULES) {
      for (const spelling of [label, name, alias].filter((s): s is string => s !== undefined)) {
        const separate = resolveSamplerName('Euler', spelling);
        assert.deepStrictEqual([separate.schedule, separate.scheduleLabel], [name, label], spelling);
        if (name === 'automatic') continue;
        const suffix = resolveSamplerName(`Euler ${spelling}`);
        assert.deepStrictEqual([suffix.samplerLabel, suffix.schedule, suffix.scheduleLabel], ['Euler', name, label], `Euler ${spelling}`);
      }
    }
    // Spaces around a schedule type and between the sampler and its suffix do not matter; no space is no suffix.
    assert.deepStrictEqual(
      [resolveSamplerName('Euler', ' Karras ').schedule, resolveSamplerName('Euler  Karras').schedule],
      ['karras', 'karras'],
    );
    // A1111 splits the suffix off at a space (`name.endswith(" " + option)`).
    assert.throws(() => resolveSamplerName('EulerKarras'), SamplerNameError);
    assert.throws(() => resolveSamplerName('Euler\tKarras'), SamplerNameError);
    // No schedule type, or only spaces: Automatic.
    assert.deepStrictEqual([resolveSamplerName('Euler', '  ').schedule, resolveSamplerName('Euler').scheduleLabel], ['automatic', 'Automatic']);
  });

  it('the pre-1.9 aliases that named a schedule', () => {
    const legacy: [string, string, string][] = [
      ['k_lms_ka', 'LMS', 'karras'],
      ['k_dpm_2_ka', 'DPM2', 'karras'],
      ['k_dpm_2_a_ka', 'DPM2 a', 'karras'],
      ['k_dpmpp_2s_a_ka', 'DPM++ 2S a', 'karras'],
      ['k_dpmpp_2m_ka', 'DPM++ 2M', 'karras'],
      ['k_dpmpp_sde_ka', 'DPM++ SDE', 'karras'],
      ['k_dpmpp_2m_sde_ka', 'DPM++ 2M SDE', 'karras'],
      ['k_dpmpp_2m_sde_exp', 'DPM++ 2M SDE', 'exponential'],
      ['k_dpmpp_2m_sde_heun_ka', 'DPM++ 2M SDE Heun', 'karras'],
      ['k_dpmpp_2m_sde_heun_exp', 'DPM++ 2M SDE Heun', 'exponential'],
      ['k_dpmpp_3m_sde_ka', 'DPM++ 3M SDE', 'karras'],
      ['K_DPMPP_3M_SDE_EXP', 'DPM++ 3M SDE', 'exponential'],
    ];
    assert.deepStrictEqual(
      legacy.map(([alias]) => {
        const choice = resolveSamplerName(alias);
        return [alias, choice.samplerLabel, choice.schedule];
      }),
      legacy,
    );
  });

  it('samplers whose steps make two model calls', () => {
    const calls = (name: string) => resolveSamplerName(name).stepMultiplier;
    assert.deepStrictEqual(
      ['Heun', 'DPM2', 'DPM2 a', 'DPM++ 2S a', 'DPM++ SDE', 'Euler', 'Euler a', 'DPM++ 2M', 'LMS', 'DDIM'].map(calls),
      [2, 2, 2, 2, 2, 1, 1, 1, 1, 1],
    );
  });

  it('an unknown schedule type or sampler is an error that lists the known ones', () => {
    assert.throws(
      () => resolveSamplerName('Euler', 'Karass'),
      (e: unknown) =>
        e instanceof SamplerNameError &&
        e.name === 'SamplerNameError' &&
        e.message === `Unknown schedule type 'Karass'. Known: ${SCHEDULES.map(([label]) => label).join(', ')}`,
    );
    assert.throws(
      () => resolveSamplerName(' Eulr Karras'),
      // A1111's order (sd_samplers_kdiffusion, then timesteps, then LCM).
      (e: unknown) =>
        e instanceof SamplerNameError &&
        e.message ===
          "Unknown sampler ' Eulr Karras'. Known: DPM++ 2M, DPM++ SDE, DPM++ 2M SDE, DPM++ 2M SDE Heun, DPM++ 2S a, DPM++ 3M SDE, Euler a, Euler, LMS, Heun, DPM2, DPM2 a, DPM fast, DPM adaptive, Restart, DDIM, DDIM CFG++, PLMS, UniPC, LCM",
    );
    // A schedule suffix on no sampler, and a sampler name that is only a schedule.
    assert.throws(() => resolveSamplerName('Karras'), SamplerNameError);
    assert.throws(() => resolveSamplerName('Euler Karras Karras'), SamplerNameError);
  });
});
