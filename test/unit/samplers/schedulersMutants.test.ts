import * as assert from 'assert';
import {
  createSampler,
  defaultSchedule,
  DiscreteSigmas,
  NoiseSchedule,
  parseSchedulerConfig,
  Sampler,
  SchedulerConfigError,
  SD_SCHEDULER_CONFIG,
  ScheduleName,
} from '../../../server/src/render/pipeline/schedulers';
import { assertClose, draws, gaussianEps, sd, X_T } from './closedForm';

/*
 * What a scheduler_config.json may say, the sigma table's edges, the schedule labels A1111 writes,
 * the penultimate-sigma cut and the img2img (Hires. fix) part of a schedule. Reference values are the
 * output of `python3 scripts/golden/schedulers_mutants.py` (numpy transcriptions of k-diffusion's
 * DiscreteSchedule / dpm_solver_fast and A1111's sd_schedulers.py / sample_img2img, written from their
 * sources): pasted here so each assertion reads with its numbers.
 */

/** The config error for `key`, exactly as a user reads it. */
function rejects(raw: unknown, message: string): void {
  assert.throws(
    () => parseSchedulerConfig(raw),
    (e: unknown) => e instanceof SchedulerConfigError && e.message === `scheduler_config.json: ${message}`,
    `expected: ${message}`,
  );
}

describe('scheduler_config.json: what is accepted and what is refused (exact messages)', () => {
  it('anything but a JSON object is refused, naming the file', () => {
    for (const raw of [5, 'leading', true, null, [], [1000]]) rejects(raw, 'expected a JSON object');
    assert.throws(() => parseSchedulerConfig(null, 'v2/scheduler_config.json'), { message: 'v2/scheduler_config.json: expected a JSON object' });
  });

  it('a key set to null takes SD\'s value, as an absent one', () => {
    const c = parseSchedulerConfig({ beta_start: null, beta_end: null, steps_offset: null, prediction_type: null, beta_schedule: null });
    assert.deepStrictEqual(c, { ...SD_SCHEDULER_CONFIG });
  });

  it('num_train_timesteps: an integer of at least 2', () => {
    for (const v of [1, 0, -5, 2.5, 1000.5]) rejects({ num_train_timesteps: v }, `num_train_timesteps ${v} is not supported; expected an integer ≥ 2`);
    const c = parseSchedulerConfig({ num_train_timesteps: 2, original_inference_steps: 2 });
    assert.strictEqual(c.num_train_timesteps, 2);
    assert.strictEqual(NoiseSchedule.fromConfig({ num_train_timesteps: 2, original_inference_steps: 2 }).sigmas.length, 2);
  });

  it('beta_start and beta_end: numbers strictly between 0 and 1', () => {
    for (const key of ['beta_start', 'beta_end']) {
      for (const v of [0, 1, -0.001, 1.5]) rejects({ [key]: v }, `${key} ${v} is not supported; expected a number in (0, 1)`);
      rejects({ [key]: '0.001' }, `${key} "0.001" is not supported; expected a number in (0, 1)`);
    }
    const c = parseSchedulerConfig({ beta_start: 0.0001, beta_end: 0.999 });
    assert.deepStrictEqual([c.beta_start, c.beta_end], [0.0001, 0.999]);
  });

  it('timestep_spacing is read (kept for the record) and must be one diffusers knows', () => {
    assert.strictEqual(parseSchedulerConfig({ timestep_spacing: 'trailing' }).timestep_spacing, 'trailing');
    assert.strictEqual(parseSchedulerConfig({ timestep_spacing: 'linspace' }).timestep_spacing, 'linspace');
    rejects({ timestep_spacing: 'even' }, 'timestep_spacing "even" is not supported; expected leading or trailing or linspace');
  });

  it('steps_offset: an integer from 0 to num_train_timesteps − 1', () => {
    const want = 'an integer from 0 to num_train_timesteps − 1';
    for (const v of [-1, 0.5, 1000]) rejects({ steps_offset: v }, `steps_offset ${v} is not supported; expected ${want}`);
    rejects({ num_train_timesteps: 500, steps_offset: 500, original_inference_steps: 50 }, `steps_offset 500 is not supported; expected ${want}`);
    assert.strictEqual(parseSchedulerConfig({ steps_offset: 0 }).steps_offset, 0);
    assert.strictEqual(parseSchedulerConfig({ steps_offset: 999 }).steps_offset, 999);
  });

  it('original_inference_steps (LCM\'s grid): an integer from 1 to num_train_timesteps', () => {
    const want = 'an integer from 1 to num_train_timesteps';
    for (const v of [0, -50, 2.5, 1001]) rejects({ original_inference_steps: v }, `original_inference_steps ${v} is not supported; expected ${want}`);
    for (const v of [1, 25, 1000]) assert.strictEqual(parseSchedulerConfig({ original_inference_steps: v }).original_inference_steps, v);
    // 25 steps over 1000: the LCM grid has 25 entries, one every 40 timesteps, ending at 999.
    const lcm = NoiseSchedule.fromConfig({ original_inference_steps: 25 }).lcmSigmas();
    assert.deepStrictEqual([lcm.sigmas.length, lcm.skip, lcm.timestepOf(lcm.sigmaMax), lcm.timestepOf(lcm.sigmaMin)], [25, 40, 999, 39]);
  });

  it('trained_betas: num_train_timesteps numbers in (0, 1), else refused', () => {
    const want = 'trained_betas "[...]" is not supported; expected 4 numbers in (0, 1)';
    const base = { num_train_timesteps: 4, original_inference_steps: 4 };
    // '0.25' has the right length: a string is refused for not being an array, not for its length.
    for (const bad of ['0.1', '0.25', [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0, 0.3, 0.4], [0.1, 0.2, 1, 0.4], [0.1, -0.2, 0.3, 0.4], [0.1, '0.2', 0.3, 0.4], [0.1, 0.2, 0.3, 1.5]]) {
      rejects({ ...base, trained_betas: bad }, want);
    }
    const c = parseSchedulerConfig({ ...base, trained_betas: [0.1, 0.2, 0.3, 0.999] });
    assert.deepStrictEqual(c.trained_betas, [0.1, 0.2, 0.3, 0.999]);
  });

  it('rescale_betas_zero_snr true is refused; false is fine', () => {
    rejects({ rescale_betas_zero_snr: true }, 'rescale_betas_zero_snr true is not supported; expected false');
    assert.deepStrictEqual(parseSchedulerConfig({ rescale_betas_zero_snr: false }), { ...SD_SCHEDULER_CONFIG });
  });
});

describe('sigma table edges (k-diffusion DiscreteSchedule)', () => {
  it('a table needs two entries; two are enough', () => {
    assert.throws(() => new DiscreteSigmas(Float64Array.of(0.5)), { name: 'RangeError', message: 'a sigma table needs at least two entries' });
    const two = new DiscreteSigmas(Float64Array.of(0.8, 0.2));
    assertClose(two.sigmas, [0.5, 2], 1e-15, 'sigmas');
    assert.strictEqual(two.sigmaToT(1), 0.5);
  });

  it('equal neighbouring sigmas: sigma_to_t takes the last equal entry, as k-diffusion (dists.ge(0).cumsum().argmax())', () => {
    // A second beta of 1e-9 leaves alphas_cumprod unchanged in float32: sigmas [1, 1, √3, √7].
    const dup = NoiseSchedule.fromConfig({ num_train_timesteps: 4, original_inference_steps: 4, trained_betas: [0.5, 1e-9, 0.5, 0.5] });
    assertClose(dup.sigmas, [1.0, 1.0, 1.7320508075688772, 2.6457513110645907], 1e-15, 'sigmas');
    assertClose([dup.sigmaToT(1), dup.sigmaToT(1.5), dup.sigmaToT(2)], [1.0, 1.7381404928570854, 2.339528855083281], 1e-12, 'sigma_to_t');
  });

  it('t_to_sigma holds timesteps beyond the table at its ends instead of returning NaN', () => {
    for (const t of [999.5, 1000, 1200]) assert.strictEqual(sd.tToSigma(t), sd.tToSigma(999), `t = ${t}`);
    for (const t of [-0.5, -3]) assert.strictEqual(sd.tToSigma(t), sd.tToSigma(0), `t = ${t}`);
    assertClose([sd.tToSigma(1200), sd.tToSigma(-3)], [sd.sigmaMax, sd.sigmaMin], 1e-12, 'ends');
  });
});

describe('Automatic schedule and the labels A1111 writes', () => {
  it('Automatic resolves to the sampler\'s own schedule, the model\'s (Uniform) or the timestep samplers\' DDIM timesteps', () => {
    for (const kind of ['ddim', 'ddim_cfgpp', 'plms', 'unipc'] as const) assert.strictEqual(defaultSchedule(kind), 'ddim_timesteps', kind);
    assert.strictEqual(defaultSchedule('euler'), 'uniform');
    assert.strictEqual(defaultSchedule('lcm'), 'uniform');
    assert.strictEqual(defaultSchedule('dpmpp_2m'), 'karras');
    assert.strictEqual(defaultSchedule('dpmpp_3m_sde'), 'exponential');
  });

  it('every schedule type\'s infotext label (Schedule type: ...)', () => {
    const labels: [ScheduleName, string][] = [
      ['uniform', 'Uniform'],
      ['karras', 'Karras'],
      ['exponential', 'Exponential'],
      ['polyexponential', 'Polyexponential'],
      ['sgm_uniform', 'SGM Uniform'],
      ['kl_optimal', 'KL Optimal'],
      ['align_your_steps', 'Align Your Steps'],
      ['simple', 'Simple'],
      ['normal', 'Normal'],
      ['ddim', 'DDIM'],
      ['beta', 'Beta'],
    ];
    for (const [name, label] of labels) assert.strictEqual(createSampler('euler', 10, name, sd).info.scheduleLabel, label, name);
    assert.strictEqual(createSampler('euler', 10, 'automatic', sd).info.scheduleLabel, undefined);
    assert.strictEqual(createSampler('dpmpp_2m', 10, 'automatic', sd).info.scheduleLabel, 'Karras');
  });
});

describe('the penultimate sigma', () => {
  it('is kept unless asked: Euler, 4 uniform steps, is get_sigmas(4)', () => {
    const s = createSampler('euler', 4, 'uniform', sd);
    assert.deepStrictEqual(Array.from(s.sigmas), Array.from(sd.getSigmas(4)));
    assert.strictEqual(s.info.discardedPenultimateSigma, false);
  });

  it('"Always discard next-to-last sigma": get_sigmas(5) without its fifth entry', () => {
    const s = createSampler('euler', 4, 'uniform', sd, { discardPenultimateSigma: true });
    const five = Array.from(sd.getSigmas(5));
    assert.deepStrictEqual(Array.from(s.sigmas), [...five.slice(0, 4), 0]);
    assert.strictEqual(s.info.discardedPenultimateSigma, true);
  });

  it('KL Optimal ends at sigma_min, not 0, and the cut keeps that last entry (DPM2, 4 steps)', () => {
    const s = createSampler('dpm2', 4, 'kl_optimal', sd);
    assertClose(s.sigmas, [14.614641489691563, 2.632888459913439, 1.2947676904734124, 0.7116271525225588, 0.02916753316555422], 1e-9, 'sigmas');
  });
});

async function runGaussian(sampler: Sampler): Promise<{ out: Float32Array; calls: number }> {
  let calls = 0;
  const x = Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma);
  const out = await sampler.sample(x, {
    unet: async (input, timestep) => {
      calls++;
      const eps = gaussianEps(sd, input, timestep);
      return { guided: eps, uncond: eps };
    },
    randn: draws(),
    seed: 1,
  });
  return { out, calls };
}

describe('img2img (Hires. fix second pass): the tail of the schedule', () => {
  it('txt2img DPM fast integrates over the model\'s sigma range whatever the schedule (SGM Uniform, 10 steps)', async () => {
    const r = await runGaussian(createSampler('dpm_fast', 10, 'sgm_uniform', sd));
    assertClose(r.out, [1.1827985280229725, 0.621567401774975, 0.4609578976264888], 1e-5, 'latent');
  });

  it('from index 4 of 10 Karras steps: sigmas[4:], and DPM fast runs from sigma_sched[0] to sigma_sched[-2] in 6 evaluations', async () => {
    const s = createSampler('dpm_fast', 10, 'karras', sd, { img2imgStart: 4 });
    assertClose(s.sigmas, [1.749422642790432, 0.9140762672556761, 0.4469208076531434, 0.20139982946161306, 0.08191104640634912, 0.029167533165554215, 0.0], 1e-9, 'sigmas');
    assertClose([s.initNoiseSigma], [1.749422642790432], 1e-9, 'initial sigma');
    const r = await runGaussian(s);
    assertClose(r.out, [0.9997069628958053, 0.020099680794081008, 1.0181828211446362], 1e-5, 'latent');
  });

  it('from the last step (index 9 of 10): one model call from sigma_sched[0] to itself leaves the latent as it is', async () => {
    const r = await runGaussian(createSampler('dpm_fast', 10, 'karras', sd, { img2imgStart: 9 }));
    assertClose(r.out, [0.023334026532443375, -0.017500519899332528, 0.03208428648210964], 1e-6, 'latent');
    assert.strictEqual(r.calls, 1);
  });

  it('a start outside the schedule is refused with the valid range', () => {
    for (const start of [-1, 10, 11, 2.5]) {
      assert.throws(() => createSampler('euler', 10, 'karras', sd, { img2imgStart: start }), {
        name: 'RangeError',
        message: `img2img start must be an integer from 0 to 9 (a 10-step schedule), got ${start}`,
      });
    }
    assert.strictEqual(createSampler('euler', 10, 'karras', sd, { img2imgStart: 0 }).sigmas.length, 11);
  });
});
