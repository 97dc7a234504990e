import * as assert from 'assert';
import {
  a1111DdimTimesteps,
  ancestralStep,
  createSampler,
  exponentialSigmas,
  karrasSigmas,
  NoiseSchedule,
  parseSchedulerConfig,
  RandnFill,
  Sampler,
  SchedulerConfigError,
} from '../../../server/src/render/pipeline/schedulers';
import { resolveSamplerName, SamplerNameError } from '../../../server/src/render/pipeline/samplerNames';
import { assertClose, sd } from '../samplers/closedForm';

/*
 * Reference values come from a numpy transcription of LDM's make_beta_schedule, k-diffusion's
 * DiscreteSchedule/get_sigmas_karras/get_sigmas_exponential/sample_* and A1111's DDIM and LCM
 * (float64, alphas_cumprod rounded to float32 as the model buffer holds it), run with numpy 2.4:
 * scripts/golden/a1111_sampling.py, printed by `python3 scripts/golden/schedulers.py` (every value
 * below matches its output within 4e-15). They are pasted here so each assertion reads with its numbers.
 */

/** Deterministic N(0,1) source: mulberry32 + Box–Muller. */
function seededRandn(seed: number): RandnFill {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return (out) => {
    for (let k = 0; k < out.length; k++) out[k] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  };
}

function randnArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  seededRandn(seed)(out);
  return out;
}

type Model = (input: Float32Array, timestep: number) => Float32Array;

interface Run {
  out: Float32Array;
  /** The timestep of every model call, in order. */
  timesteps: number[];
  /** The latent after each step. */
  trace: Float32Array[];
  /** The clean estimate of each step. */
  denoised: Float32Array[];
}

/** Runs a sampler with `model` as the (already guided) UNet, recording what it asked and reported. */
async function run(sampler: Sampler, x: Float32Array, model: Model, randn: RandnFill, seed = 0): Promise<Run> {
  const r: Run = { out: x, timesteps: [], trace: [], denoised: [] };
  r.out = await sampler.sample(x, {
    unet: async (input, timestep) => {
      r.timesteps.push(timestep);
      const guided = model(input, timestep);
      return { guided, uncond: guided };
    },
    randn,
    seed,
    onStep: ({ x: latent, denoised }) => {
      r.trace.push(Float32Array.from(latent));
      r.denoised.push(Float32Array.from(denoised));
    },
  });
  return r;
}

async function sample(sampler: Sampler, x: Float32Array, model: Model, randn: RandnFill): Promise<Float32Array> {
  return (await run(sampler, x, model, randn)).out;
}

const zeroModel: Model = (input) => new Float32Array(input.length);

/**
 * A model that knows the clean latent: from the UNet input (always ᾱ-scaled: sqrt(ᾱ)·x0 +
 * sqrt(1−ᾱ)·n) and the timestep it returns the exact noise n. ᾱ comes from the timestep through
 * the schedule, so this also checks that the sampler's timestep and input scaling agree.
 */
function oracle(x0: Float32Array, schedule: NoiseSchedule, sigmaOf = (t: number) => schedule.tToSigma(t)): Model {
  return (input, t) => {
    const s = sigmaOf(t);
    const ac = 1 / (1 + s * s);
    const out = new Float32Array(input.length);
    for (let k = 0; k < input.length; k++) out[k] = (input[k] - Math.sqrt(ac) * x0[k]) / Math.sqrt(1 - ac);
    return out;
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('noise schedule (SD 1.x/2.x/XL scaled_linear 0.00085–0.012, 1000 steps)', () => {
  it('alphas_cumprod at 0, 1, 499, 998, 999 (float32 values, within 1e-7 relative)', () => {
    const expected = [0.9991499781608582, 0.9982960224151611, 0.27766963839530945, 0.004716699011623859, 0.004660098347812891];
    assertClose([0, 1, 499, 998, 999].map((i) => sd.alphasCumprod[i]), expected, 1e-7, 'alphas_cumprod');
  });

  it('sigma table endpoints: sigma_min ≈ 0.0292, sigma_max ≈ 14.6146 (within 1e-9 relative)', () => {
    assertClose([sd.sigmaMin, sd.sigmaMax, sd.sigmas[500]], [0.02916753316555422, 14.614641489691584, 1.618278856010595], 1e-9, 'sigmas');
    assert.strictEqual(sd.sigmas.length, 1000);
  });

  it('an SDXL scheduler_config.json gives the same table; absent keys take SD values', () => {
    const sdxl = NoiseSchedule.fromConfig({
      _class_name: 'EulerDiscreteScheduler',
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      clip_sample: false,
      interpolation_type: 'linear',
      num_train_timesteps: 1000,
      prediction_type: 'epsilon',
      sample_max_value: 1.0,
      set_alpha_to_one: false,
      skip_prk_steps: true,
      steps_offset: 1,
      timestep_spacing: 'leading',
      trained_betas: null,
      use_karras_sigmas: false,
    });
    assert.deepStrictEqual(Array.from(sdxl.sigmas), Array.from(sd.sigmas));
    assert.deepStrictEqual(Array.from(NoiseSchedule.fromConfig({}).sigmas), Array.from(sd.sigmas));
  });

  it('linear betas and trained_betas are honoured', () => {
    const lin = NoiseSchedule.fromConfig({ beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, num_train_timesteps: 10 });
    assertClose(lin.betas, Array.from({ length: 10 }, (_, i) => 0.0001 + (i * (0.02 - 0.0001)) / 9), 1e-15, 'betas');
    const trained = NoiseSchedule.fromConfig({ trained_betas: [0.1, 0.2, 0.3], num_train_timesteps: 3 });
    assertClose(trained.alphasCumprod, [0.9, 0.72, 0.504], 1e-7, 'alphas_cumprod');
  });

  it('rejects settings the samplers do not implement, naming the key', () => {
    assert.throws(() => parseSchedulerConfig({ beta_schedule: 'squaredcos_cap_v2' }), {
      name: 'SchedulerConfigError',
      message: 'scheduler_config.json: beta_schedule "squaredcos_cap_v2" is not supported; expected scaled_linear or linear',
    });
    assert.throws(
      () => parseSchedulerConfig({ prediction_type: 'sample' }),
      /prediction_type "sample" is not supported; expected epsilon or v_prediction/,
    );
    assert.throws(() => parseSchedulerConfig({ rescale_betas_zero_snr: true }), SchedulerConfigError);
    assert.throws(() => parseSchedulerConfig([]), /expected a JSON object/);
    assert.strictEqual(parseSchedulerConfig({ prediction_type: 'v_prediction' }).prediction_type, 'v_prediction');
  });
});

describe('sigma schedules (k-diffusion, SD 1.5 table)', () => {
  it('Automatic/Uniform: CompVisDenoiser.get_sigmas(20), within 1e-9 relative', () => {
    const expected = [
      14.614641489691587, 10.746802427997386, 8.081519433445985, 6.204934242497398, 4.855652618035313, 3.865379160669808,
      3.1237614581871895, 2.5571660047727507, 2.1156577696146406, 1.7648225434774092, 1.4805806298383175, 1.2458131595256081,
      1.048142059608701, 0.8784281447589795, 0.7297186911851954, 0.5964335513571662, 0.47358471442958616, 0.3555454465773455,
      0.2321642477440004, 0.02916753316555422, 0,
    ];
    assertClose(sd.getSigmas(20), expected, 1e-9, 'uniform');
  });

  it('Karras: get_sigmas_karras(20, sigma_min, sigma_max, rho=7), within 1e-9 relative', () => {
    const expected = [
      14.614641489691582, 11.725368422664172, 9.340208454974652, 7.383624270140424, 5.789419159561763, 4.4998425189583315,
      3.4647543787984465, 2.6408469526655076, 1.9909211875061363, 1.483216299704393, 1.0907902809264993, 0.7909493576805677,
      0.5647243885357275, 0.39639218294510115, 0.2730397256170801, 0.18416929037933077, 0.12134242747996972,
      0.07786080827035513, 0.04848191121392944, 0.029167533165554215, 0,
    ];
    assertClose(karrasSigmas(20, sd.sigmaMin, sd.sigmaMax), expected, 1e-9, 'karras');
  });

  it('Exponential: get_sigmas_exponential(20), within 1e-9 relative', () => {
    const expected = [
      14.614641489691587, 10.536315659285304, 7.596077382425308, 5.476334751696989, 3.948122274534901, 2.8463690043506533,
      2.0520682860265635, 1.4794231682819552, 1.0665789855791796, 0.7689420828796325, 0.5543630006006465, 0.3996638281053204,
      0.288134625367732, 0.20772848703717375, 0.14976028747562567, 0.1079685507976017, 0.07783911314427448,
      0.056117522096274644, 0.04045750470446506, 0.02916753316555422, 0,
    ];
    assertClose(exponentialSigmas(20, sd.sigmaMin, sd.sigmaMax), expected, 1e-9, 'exponential');
  });

  it('sigma_to_t: interpolated in log-sigma, clamped outside the table (within 1e-9)', () => {
    const cases: [number, number][] = [
      [14.6146, 998.999531899097],
      [1.0, 353.8904075655516],
      [0.5, 169.31476485965646],
      [0.03, 0.08082901313467203],
      [0.0292, 0.0031953894147945146],
      [0.01, 0],
      [20, 999],
    ];
    for (const [sigma, t] of cases) assertClose([sd.sigmaToT(sigma)], [t], 1e-9, `sigma_to_t(${sigma})`);
  });

  it('sigma_to_t inverts t_to_sigma across the table (within 1e-9)', () => {
    for (let t = 0; t <= 999; t += 0.37) assertClose([sd.sigmaToT(sd.tToSigma(t))], [t], 1e-9, `t=${t}`);
  });

  it('the UNet timesteps of the 20-step uniform schedule are 999 − i·999/19', async () => {
    const s = createSampler('euler', 20, 'uniform', sd);
    assertClose((await run(s, new Float32Array(4), zeroModel, seededRandn(1))).timesteps, Array.from({ length: 20 }, (_, i) => 999 - (i * 999) / 19), 1e-9, 'timesteps');
    assert.strictEqual(s.initNoiseSigma, s.sigmas[0]);
  });

  it('Automatic picks A1111 ≥ 1.9 defaults: Karras for DPM++ 2M, Uniform for Euler, Euler a, LCM', () => {
    assert.strictEqual(createSampler('dpmpp_2m', 20, 'automatic', sd).schedule, 'karras');
    assertClose(createSampler('dpmpp_2m', 20, 'automatic', sd).sigmas, karrasSigmas(20, sd.sigmaMin, sd.sigmaMax), 0, 'dpm++ 2m');
    assert.strictEqual(createSampler('euler', 20, 'automatic', sd).schedule, 'uniform');
    assert.strictEqual(createSampler('euler_a', 20, 'automatic', sd).schedule, 'uniform');
    assert.strictEqual(createSampler('lcm', 4, 'automatic', sd).schedule, 'uniform');
    assert.strictEqual(createSampler('dpmpp_2m', 20, 'uniform', sd).schedule, 'uniform');
    assert.strictEqual(createSampler('ddim', 20, 'karras', sd).schedule, 'ddim_timesteps');
  });
});

describe('DDIM timesteps (A1111 sd_samplers_timesteps)', () => {
  it('20 steps, steps_offset 1: [1, 51, ..., 951]; the UNet sees 951 down to 51 (19 calls)', async () => {
    assert.deepStrictEqual(Array.from(a1111DdimTimesteps(20)), Array.from({ length: 20 }, (_, i) => 1 + 50 * i));
    const s = createSampler('ddim', 20, 'automatic', sd);
    assert.strictEqual(s.steps, 19);
    const calls = (await run(s, new Float32Array(4), zeroModel, seededRandn(1))).timesteps;
    assert.deepStrictEqual(calls, Array.from({ length: 19 }, (_, i) => 951 - 50 * i));
    assert.strictEqual(s.initNoiseSigma, 1);
  });

  it('30 steps: stride 33 gives 31 timesteps [1, 34, ..., 991] and 30 UNet calls', () => {
    const ts = Array.from(a1111DdimTimesteps(30));
    assert.strictEqual(ts.length, 31);
    assert.deepStrictEqual([ts[0], ts[1], ts[29], ts[30]], [1, 34, 958, 991]);
    assert.strictEqual(createSampler('ddim', 30, 'automatic', sd).steps, 30);
  });

  it('steps_offset comes from the config; more steps than training timesteps is an error', async () => {
    const zero = NoiseSchedule.fromConfig({ steps_offset: 0 });
    const calls = (await run(createSampler('ddim', 4, 'automatic', zero), new Float32Array(4), zeroModel, seededRandn(1))).timesteps;
    assert.deepStrictEqual(calls, [750, 500, 250]);
    assert.throws(() => a1111DdimTimesteps(1001), /DDIM needs steps ≤ 1000/);
  });
});

describe('samplers: closed form (the model predicts the exact noise)', () => {
  const n = 64;
  const x0 = randnArray(n, 1);
  const noise = randnArray(n, 2);
  /** x = x0 + σ·n, the k-diffusion state that a perfect model would see at the first sigma. */
  const kStart = (s: Sampler) => x0.map((v, k) => v + s.sigmas[0] * noise[k]);
  const noRandn: RandnFill = () => assert.fail('this sampler should not draw noise');

  for (const [kind, schedule] of [
    ['euler', 'uniform'],
    ['euler', 'karras'],
    ['euler', 'exponential'],
    ['dpmpp_2m', 'uniform'],
    ['dpmpp_2m', 'karras'],
  ] as const) {
    it(`${kind} (${schedule}, 20 steps) recovers x0 within 1e-4`, async () => {
      const s = createSampler(kind, 20, schedule, sd);
      const out = await sample(s, kStart(s), oracle(x0, sd), noRandn);
      assert.ok(maxAbsDiff(out, x0) < 1e-4, `max error ${maxAbsDiff(out, x0)}`);
    });
  }

  it('DDIM (20 steps) predicts x0 at every step and ends, as A1111, at sqrt(ᾱ₁)·x0 + sqrt(1−ᾱ₁)·n (within 1e-4)', async () => {
    const s = createSampler('ddim', 20, 'automatic', sd);
    const a951 = sd.alphasCumprod[951];
    const x: Float32Array = x0.map((v, k) => Math.sqrt(a951) * v + Math.sqrt(1 - a951) * noise[k]);
    const r = await run(s, x, oracle(x0, sd), noRandn);
    assert.strictEqual(r.denoised.length, 19);
    r.denoised.forEach((d, i) => assert.ok(maxAbsDiff(d, x0) < 1e-4, `step ${i}: denoised off by ${maxAbsDiff(d, x0)}`));
    const a1 = sd.alphasCumprod[1];
    const expected = x0.map((v, k) => Math.sqrt(a1) * v + Math.sqrt(1 - a1) * noise[k]);
    assert.ok(maxAbsDiff(r.out, expected) < 1e-4, `max error ${maxAbsDiff(r.out, expected)}`);
    assert.ok(Math.abs(Math.sqrt(1 - a1) - 0.0413) < 1e-4);
  });

  it('Euler a: deterministic for a fixed rng, and still ends at x0 within 1e-4', async () => {
    const go = (seed: number) => {
      const s = createSampler('euler_a', 20, 'automatic', sd);
      return run(s, kStart(s), oracle(x0, sd), seededRandn(seed));
    };
    const a = await go(7);
    const b = await go(7);
    const c = await go(8);
    assert.deepStrictEqual(a.trace, b.trace);
    assert.ok(maxAbsDiff(a.trace[0], c.trace[0]) > 0.1, 'a different seed gives a different path');
    assert.ok(maxAbsDiff(a.out, x0) < 1e-4, `max error ${maxAbsDiff(a.out, x0)}`);
    assert.ok(maxAbsDiff(c.out, x0) < 1e-4);
  });

  it('LCM on a 4-step schedule: grid timesteps 999, 679, 339, 19 and x0 within 1e-4', async () => {
    const s = createSampler('lcm', 4, 'automatic', sd);
    assertClose(s.sigmas, [14.614641489691587, 2.9910556879715244, 0.9728260253082863, 0.1344505838075551, 0], 1e-9, 'lcm sigmas');
    // LCM quantizes the timestep but scales the input by the true sigma: the oracle needs the sigma.
    let i = 0;
    const model: Model = (input, t) => oracle(x0, sd, () => s.sigmas[i++])(input, t);
    let draws = 0;
    const randn: RandnFill = (out) => {
      draws++;
      seededRandn(100 + draws)(out);
    };
    const r = await run(s, kStart(s), model, randn);
    const out = r.out;
    assert.deepStrictEqual(r.timesteps, [999, 679, 339, 19]);
    assert.strictEqual(draws, 3, 'fresh noise before each step but the first');
    assert.ok(maxAbsDiff(out, x0) < 1e-4, `max error ${maxAbsDiff(out, x0)}`);
  });

  it('v_prediction: Euler, DPM++ 2M and DDIM recover x0 from the exact v within 1e-4', async () => {
    const vs = NoiseSchedule.fromConfig({ prediction_type: 'v_prediction' });
    const eps = oracle(x0, vs);
    // v = sqrt(ᾱ)·n − sqrt(1−ᾱ)·x0 in the ᾱ-scaled space the UNet sees.
    const vModel: Model = (input, t) => {
      const s = vs.tToSigma(t);
      const ac = 1 / (1 + s * s);
      const e = eps(input, t);
      return e.map((v, k) => Math.sqrt(ac) * v - Math.sqrt(1 - ac) * x0[k]);
    };
    for (const kind of ['euler', 'dpmpp_2m'] as const) {
      const s = createSampler(kind, 20, 'automatic', vs);
      const out = await sample(s, kStart(s), vModel, noRandn);
      assert.ok(maxAbsDiff(out, x0) < 1e-4, `${kind}: max error ${maxAbsDiff(out, x0)}`);
    }
    const d = createSampler('ddim', 20, 'automatic', vs);
    const a951 = vs.alphasCumprod[951];
    const x: Float32Array = x0.map((v, k) => Math.sqrt(a951) * v + Math.sqrt(1 - a951) * noise[k]);
    const r = await run(d, x, vModel, noRandn);
    const denoised = r.denoised[r.denoised.length - 1];
    assert.ok(maxAbsDiff(denoised, x0) < 1e-4, `ddim: max error ${maxAbsDiff(denoised, x0)}`);
  });
});

describe('samplers: against the numpy transcription of the A1111/k-diffusion loops', () => {
  // A 3-value latent, a toy "UNet" eps = 0.3·input + 0.05·cos(t/200)·(k+1), and a fixed
  // sequence of "random" draws sin(j+1+0.7k). Float32 latents against float64: within 2e-5 relative.
  const x0 = new Float32Array([0.8, -0.6, 1.1]);
  const toy: Model = (input, t) => input.map((v, k) => 0.3 * v + 0.05 * Math.cos(t / 200) * (k + 1));
  const draws = (): RandnFill => {
    let j = 0;
    return (out) => {
      for (let k = 0; k < out.length; k++) out[k] = Math.sin(j + 1 + k * 0.7);
      j++;
    };
  };
  const runToy = (s: Sampler) =>
    sample(
      s,
      x0.map((v) => v * s.initNoiseSigma),
      toy,
      draws(),
    );
  const v = NoiseSchedule.fromConfig({ prediction_type: 'v_prediction' });

  const cases: [string, () => Sampler, number[]][] = [
    ['Euler, uniform 10', () => createSampler('euler', 10, 'uniform', sd), [4.799774961638777, -3.4392930253621725, 6.69455405162922]],
    ['Euler a, uniform 10', () => createSampler('euler_a', 10, 'uniform', sd), [5.106202617691858, -0.2437659319090753, 4.254078911004089]],
    ['DPM++ 2M, uniform 10', () => createSampler('dpmpp_2m', 10, 'uniform', sd), [4.312415693856341, -3.092800269934169, 6.013192011141339]],
    ['DPM++ 2M, Karras 10', () => createSampler('dpmpp_2m', 10, 'karras', sd), [4.220450774806817, -2.893486201361509, 5.963759562480598]],
    ['DPM++ 2M, Karras 10, v', () => createSampler('dpmpp_2m', 10, 'karras', v), [0.5410794467752282, -0.4317883087856167, 0.728633175308914]],
    ['Euler, uniform 10, v', () => createSampler('euler', 10, 'uniform', v), [0.4282520440845497, -0.32626144726980427, 0.5858492249488425]],
    ['DDIM 10', () => createSampler('ddim', 10, 'automatic', sd), [3.2506640388343806, -2.1452483923427326, 4.642651475132714]],
    ['DDIM 10, v', () => createSampler('ddim', 10, 'automatic', v), [0.4533962935367886, -0.3397221385017727, 0.6236119973158407]],
    ['DDIM 10, eta 1', () => createSampler('ddim', 10, 'automatic', sd, { etaDdim: 1 }), [3.6790971845125986, -0.026591596940825604, 3.1371947108818437]],
    ['LCM 4', () => createSampler('lcm', 4, 'automatic', sd), [6.505304430579102, -1.4824560088966088, 6.899631095349995]],
  ];
  for (const [name, make, expected] of cases) {
    it(name, async () => assertClose(await runToy(make()), expected, 2e-5, name));
  }

  it('get_ancestral_step for the first 20-step uniform step, and eta 0', () => {
    const r = ancestralStep(14.614641489691587, 10.746802427997386);
    assertClose([r.sigmaDown, r.sigmaUp], [7.902606609123722, 7.283033104953222], 1e-12, 'ancestral');
    assert.deepStrictEqual(ancestralStep(14.6, 10.7, 0), { sigmaDown: 10.7, sigmaUp: 0 });
  });

  it('a step count that is not a positive integer is an error', () => {
    assert.throws(() => createSampler('euler', 0, 'uniform', sd), /steps must be a positive integer/);
    assert.throws(() => createSampler('ddim', 2.5, 'uniform', sd), /steps must be a positive integer/);
  });
});

describe('A1111 sampler names', () => {
  it('maps the known names and schedule types', () => {
    const cases: [string, string | undefined, string, string, string, string][] = [
      ['Euler a', undefined, 'euler_a', 'automatic', 'Euler a', 'Automatic'],
      ['Euler', 'Karras', 'euler', 'karras', 'Euler', 'Karras'],
      ['DDIM', undefined, 'ddim', 'automatic', 'DDIM', 'Automatic'],
      ['DPM++ 2M', 'Uniform', 'dpmpp_2m', 'uniform', 'DPM++ 2M', 'Uniform'],
      ['LCM', 'Exponential', 'lcm', 'exponential', 'LCM', 'Exponential'],
    ];
    for (const [name, type, kind, schedule, samplerLabel, scheduleLabel] of cases) {
      assert.deepStrictEqual(resolveSamplerName(name, type), { kind, schedule, samplerLabel, scheduleLabel, stepMultiplier: 1 });
    }
  });

  it('the old name DPM++ 2M Karras is DPM++ 2M with the Karras schedule, whatever Schedule type says', () => {
    const karras = { kind: 'dpmpp_2m', schedule: 'karras', samplerLabel: 'DPM++ 2M', scheduleLabel: 'Karras', stepMultiplier: 1 };
    assert.deepStrictEqual(resolveSamplerName('DPM++ 2M Karras'), karras);
    assert.deepStrictEqual(resolveSamplerName('DPM++ 2M Karras', 'Uniform'), karras);
    assert.deepStrictEqual(resolveSamplerName('k_dpmpp_2m_ka'), karras);
    assert.deepStrictEqual(resolveSamplerName('Euler a Exponential').schedule, 'exponential');
  });

  it('accepts any case, surrounding spaces, A1111 aliases and lower-case schedule names', () => {
    assert.strictEqual(resolveSamplerName(' euler A ').kind, 'euler_a');
    assert.strictEqual(resolveSamplerName('k_euler_ancestral').kind, 'euler_a');
    assert.strictEqual(resolveSamplerName('dpm++ 2m karras').schedule, 'karras');
    assert.strictEqual(resolveSamplerName('Euler', 'karras').schedule, 'karras');
    assert.strictEqual(resolveSamplerName('Euler', '').schedule, 'automatic');
  });

  it('an unknown name is an error listing the known ones', () => {
    assert.throws(() => resolveSamplerName('Foo'), {
      name: 'SamplerNameError',
      message:
        "Unknown sampler 'Foo'. Known: DPM++ 2M, DPM++ SDE, DPM++ 2M SDE, DPM++ 2M SDE Heun, DPM++ 2S a, DPM++ 3M SDE, Euler a, Euler, LMS, Heun, DPM2, DPM2 a, DPM fast, DPM adaptive, Restart, DDIM, DDIM CFG++, PLMS, UniPC, LCM",
    });
    assert.throws(() => resolveSamplerName('Heun Turbo'), /Unknown sampler 'Heun Turbo'/);
    assert.throws(() => resolveSamplerName('Euler', 'Turbo'), (e: unknown) => {
      assert.ok(e instanceof SamplerNameError);
      assert.strictEqual(
        e.message,
        "Unknown schedule type 'Turbo'. Known: Automatic, Uniform, Karras, Exponential, Polyexponential, SGM Uniform, KL Optimal, Align Your Steps, Simple, Normal, DDIM, Beta",
      );
      return true;
    });
  });

});
