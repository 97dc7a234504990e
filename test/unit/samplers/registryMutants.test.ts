/**
 * A1111's sampler table as the user meets it: every alias A1111 accepts (sd_samplers.samplers_map,
 * from the aliases of `samplers_k_diffusion`, `samplers_timesteps` and `samplers_lcm`) names its
 * sampler on a parameter line, and the settings A1111 passes only to some samplers (Eta when the
 * function has an `eta` parameter; s_churn / s_tmin / s_tmax / s_noise per `sampler_extra_params`)
 * are written back to the infotext exactly for those samplers.
 */
import * as assert from 'assert';
import { resolveSamplerName } from '../../../server/src/render/pipeline/samplerNames';
import { SAMPLER_KINDS, SamplerKind } from '../../../server/src/render/pipeline/samplers/registry';
import { samplerInfotextParameters, SamplerSettings } from '../../../server/src/render/pipeline/samplers/samplerParameters';
import { createSampler, NoiseSchedule } from '../../../server/src/render/pipeline/schedulers';

const SD15 = NoiseSchedule.fromConfig({});

/** The infotext pairs a render with these settings writes for the sampler (A1111 leaves out the unset ones). */
function written(kind: SamplerKind, settings: SamplerSettings): Record<string, string | number> {
  const built = createSampler(kind, 4, 'automatic', SD15, settings);
  const out: Record<string, string | number> = {};
  for (const [key, value] of samplerInfotextParameters(kind, settings, built)) if (value !== undefined) out[key] = value;
  return out;
}

describe('A1111 sampler aliases on the parameter line', () => {
  // A1111 1.10's aliases, label by label.
  const ALIASES: [alias: string, label: string, kind: SamplerKind][] = [
    ['k_dpmpp_2m', 'DPM++ 2M', 'dpmpp_2m'],
    ['k_dpmpp_sde', 'DPM++ SDE', 'dpmpp_sde'],
    ['k_dpmpp_2m_sde', 'DPM++ 2M SDE', 'dpmpp_2m_sde'],
    ['k_dpmpp_2m_sde_heun', 'DPM++ 2M SDE Heun', 'dpmpp_2m_sde_heun'],
    ['k_dpmpp_2s_a', 'DPM++ 2S a', 'dpmpp_2s_a'],
    ['k_dpmpp_3m_sde', 'DPM++ 3M SDE', 'dpmpp_3m_sde'],
    ['k_euler_a', 'Euler a', 'euler_a'],
    ['k_euler_ancestral', 'Euler a', 'euler_a'],
    ['k_euler', 'Euler', 'euler'],
    ['k_lms', 'LMS', 'lms'],
    ['k_heun', 'Heun', 'heun'],
    ['k_dpm_2', 'DPM2', 'dpm2'],
    ['k_dpm_2_a', 'DPM2 a', 'dpm2_a'],
    ['k_dpm_fast', 'DPM fast', 'dpm_fast'],
    ['k_dpm_ad', 'DPM adaptive', 'dpm_adaptive'],
    ['restart', 'Restart', 'restart'],
    ['ddim', 'DDIM', 'ddim'],
    ['ddim_cfgpp', 'DDIM CFG++', 'ddim_cfgpp'],
    ['plms', 'PLMS', 'plms'],
    ['unipc', 'UniPC', 'unipc'],
    ['k_lcm', 'LCM', 'lcm'],
  ];

  it('each alias names its sampler, written back under the sampler label, in any case', () => {
    for (const [alias, label, kind] of ALIASES) {
      for (const spelled of [alias, alias.toUpperCase()]) {
        const choice = resolveSamplerName(spelled);
        assert.deepStrictEqual([spelled, choice.kind, choice.samplerLabel, choice.scheduleLabel], [spelled, kind, label, 'Automatic']);
      }
    }
    // Every sampler the engine renders has its alias in the table above.
    assert.deepStrictEqual([...new Set(ALIASES.map(([, , kind]) => kind))].sort(), [...SAMPLER_KINDS].sort());
  });

  it('a name that is no sampler and no alias is an error listing the known samplers', () => {
    assert.throws(() => resolveSamplerName('k_euler_b'), /^SamplerNameError: Unknown sampler 'k_euler_b'\. Known: DPM\+\+ 2M, DPM\+\+ SDE, /);
  });

  it('an unknown sampler kind given to createSampler is a RangeError naming it', () => {
    assert.throws(() => createSampler('k_euler' as SamplerKind, 4, 'automatic', SD15), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.strictEqual(e.message, "unknown sampler kind 'k_euler'");
      return true;
    });
  });
});

describe('which samplers take Eta, Sigma noise and the Sigma churn settings (A1111 1.10)', () => {
  const ALL: SamplerSettings = { eta: 0.5, etaDdim: 0.25, sNoise: 0.9, sChurn: 0.3, sTmin: 0.2, sTmax: 8 };
  const ETA_NOISE = { Eta: 0.5, 'Sigma noise': 0.9 };
  const CHURN = { 'Sigma churn': 0.3, 'Sigma tmin': 0.2, 'Sigma tmax': 8, 'Sigma noise': 0.9 };
  const EXPECTED: Record<SamplerKind, Record<string, number>> = {
    dpmpp_2m: {},
    dpmpp_sde: ETA_NOISE,
    dpmpp_2m_sde: ETA_NOISE,
    dpmpp_2m_sde_heun: ETA_NOISE,
    dpmpp_2s_a: ETA_NOISE,
    dpmpp_3m_sde: ETA_NOISE,
    // sample_euler_ancestral takes s_noise, but A1111 passes only eta to it (not in sampler_extra_params).
    euler_a: { Eta: 0.5 },
    euler: CHURN,
    lms: {},
    heun: CHURN,
    dpm2: CHURN,
    dpm2_a: ETA_NOISE,
    dpm_fast: ETA_NOISE,
    // sample_dpm_adaptive has eta but is not in sampler_extra_params.
    dpm_adaptive: { Eta: 0.5 },
    restart: {},
    // The timestep samplers: DDIM's eta is "Eta DDIM" (eta_ddim); PLMS and UniPC take none.
    ddim: { 'Eta DDIM': 0.25 },
    ddim_cfgpp: { 'Eta DDIM': 0.25 },
    plms: {},
    unipc: {},
    lcm: {},
  };

  it('each sampler writes exactly the settings A1111 passes to it', () => {
    for (const kind of SAMPLER_KINDS) assert.deepStrictEqual({ kind, ...written(kind, ALL) }, { kind, ...EXPECTED[kind] });
  });

  it('a setting at its default is not written: Eta 1 (k-diffusion), Eta DDIM 0, Sigma noise 1, Sigma churn/tmin/tmax 0', () => {
    const defaults: SamplerSettings = { eta: 1, etaDdim: 0, sNoise: 1, sChurn: 0, sTmin: 0, sTmax: 0 };
    for (const kind of SAMPLER_KINDS) assert.deepStrictEqual({ kind, ...written(kind, defaults) }, { kind });
    // Eta 0 is not the k-diffusion default; Eta DDIM 1 is not DDIM's.
    assert.deepStrictEqual(written('euler_a', { eta: 0 }), { Eta: 0 });
    assert.deepStrictEqual(written('ddim', { etaDdim: 1, eta: 0.5 }), { 'Eta DDIM': 1 });
  });
});
