import * as assert from 'assert';
import { createSampler, RandnFill, Sampler, SamplerKind, ScheduleType } from '../../../server/src/render/pipeline/schedulers';
import { SAMPLER_KINDS } from '../../../server/src/render/pipeline/samplers/registry';
import { linearMultistepCoeff } from '../../../server/src/render/pipeline/samplers/lms';
import { restartStepList } from '../../../server/src/render/pipeline/samplers/restart';
import { assertClose, draws, gaussianEps, S_DATA, sd, sdeNoise, X_T } from './closedForm';

/*
 * Every sampler against a numpy transcription of its k-diffusion / A1111 definition
 * (scripts/golden/a1111_samplers.py, written from the upstream Python, run with numpy 2.4 and
 * scipy 1.17), on the exact denoiser for Gaussian data: the "UNet" returns the optimal eps for
 * data ~ N(0, 0.8²) at the sigma its timestep stands for (closedForm.ts). The values below are that
 * script's output; float32 latents against float64: within 1e-5 relative.
 */

interface Run {
  out: Float32Array;
  calls: { timestep: number; multiplier: number }[];
  steps: number;
}

async function runGaussian(sampler: Sampler, schedule = sd, uncondScale = 1): Promise<Run> {
  const calls: Run['calls'] = [];
  let steps = 0;
  const x = Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma);
  const out = await sampler.sample(x, {
    unet: async (input, timestep, multiplier) => {
      calls.push({ timestep, multiplier });
      const eps = gaussianEps(schedule, input, timestep);
      return { guided: eps, uncond: eps.map((v) => v * uncondScale) };
    },
    randn: draws(),
    seed: 1,
    noiseSampler: sdeNoise(),
    onStep: () => steps++,
  });
  return { out, calls, steps };
}

describe('samplers against the numpy transcription (10 steps, Gaussian data, each with its A1111 default schedule)', () => {
  const cases: [string, SamplerKind, ScheduleType, number[], number, number][] = [
    // label, kind, schedule, expected final latent, model calls, reported steps
    ['Heun (uniform)', 'heun', 'automatic', [0.6566608222872108, -0.4924956167154077, 0.9029086306449139], 19, 10],
    ['DPM2 (Karras, penultimate sigma discarded)', 'dpm2', 'automatic', [0.653697239410407, -0.4902729295578053, 0.8988337041893095], 19, 10],
    ['DPM2 a (Karras, discarded)', 'dpm2_a', 'automatic', [-0.1730060219243549, -0.15409024096123222, 0.20397399248705045], 19, 10],
    ['LMS (uniform)', 'lms', 'automatic', [0.6295395495626465, -0.4721546621719846, 0.8656168806486387], 10, 10],
    ['DPM++ 2S a (Karras)', 'dpmpp_2s_a', 'automatic', [-0.26612209806131515, -0.2671928635438781, 0.054113682597373064], 19, 10],
    ['DPM++ SDE (Karras)', 'dpmpp_sde', 'automatic', [-0.2208260175529198, -0.10229128698594574, 0.20917915141923793], 19, 10],
    ['DPM++ 2M SDE (Exponential)', 'dpmpp_2m_sde', 'automatic', [-0.05214223414111811, -0.36876490652977645, -0.29078994837178584], 10, 10],
    ['DPM++ 2M SDE Heun (Exponential)', 'dpmpp_2m_sde_heun', 'automatic', [-0.08638447951151237, -0.42261532292868975, -0.32349561425957246], 10, 10],
    ['DPM++ 3M SDE (Exponential, discarded)', 'dpmpp_3m_sde', 'automatic', [0.5687404664974324, 0.7607112629922331, 0.4925146427877624], 10, 10],
    ['DPM fast (eta 1)', 'dpm_fast', 'automatic', [1.1827985280229725, 0.621567401774975, 0.4609578976264888], 10, 4],
    ['Restart (Karras, under 20 steps: plain Heun)', 'restart', 'automatic', [0.6773100657640752, -0.5079825493230563, 0.9313013404256033], 19, 10],
    ['PLMS', 'plms', 'automatic', [0.6309810011317912, -0.4732357508488436, 0.8675988765562137], 10, 9],
    ['UniPC (bh1, order 3)', 'unipc', 'automatic', [0.6068249715491489, -0.45511872866186165, 0.83438433588008], 10, 10],
    ['DPM adaptive (eta 1: 10 steps accepted, 3 rejected, 39 calls)', 'dpm_adaptive', 'automatic', [-0.10564731456646757, 0.07870014249425068, 0.47474787881759933], 39, 13],
  ];
  for (const [label, kind, schedule, expected, calls, steps] of cases) {
    it(label, async () => {
      const r = await runGaussian(createSampler(kind, 10, schedule, sd));
      assertClose(r.out, expected, 1e-5, label);
      assert.strictEqual(r.calls.length, calls, 'model calls');
      assert.strictEqual(r.steps, steps, 'steps reported');
    });
  }

  it('DDIM CFG++: CFG scale × 1/12.5 and the step along the unconditional eps', async () => {
    const r = await runGaussian(createSampler('ddim_cfgpp', 10, 'automatic', sd), sd, 0.5);
    assertClose(r.out, [0.013468882589692685, -0.010101661942269528, 0.01851971356082744], 1e-5, 'ddim cfg++');
    assert.deepStrictEqual(new Set(r.calls.map((c) => c.multiplier)), new Set([1 / 12.5]));
    const ddim = await runGaussian(createSampler('ddim', 10, 'automatic', sd));
    assert.deepStrictEqual(new Set(ddim.calls.map((c) => c.multiplier)), new Set([1]));
  });

  it('Restart from 20 steps: 11 Karras steps, a restart of 9 back up to sigma ≈ 2, its noise from the image generator', async () => {
    const r = await runGaussian(createSampler('restart', 20, 'automatic', sd));
    assertClose(r.out, [0.8699910102768567, 0.5825753992225198, 0.8297287281171423], 1e-5, 'restart 20');
    assert.strictEqual(r.steps, 20);
    const list = restartStepList(createSampler('restart', 20, 'automatic', sd).sigmas);
    // The jump back up: a step whose start is above the previous step's end.
    const ups = list.filter((s, k) => k > 0 && s[0] > list[k - 1][1]);
    assert.strictEqual(ups.length, 1);
    assert.ok(Math.abs(ups[0][0] - 2) < 0.5, `restarts near sigma 2, got ${ups[0][0]}`);
    const forty = await runGaussian(createSampler('restart', 40, 'automatic', sd));
    assertClose(forty.out, [1.0087297330973062, 0.5290710328676592, 0.12869281419398837], 1e-5, 'restart 40');
    assert.strictEqual(forty.steps, 40);
  });

  it("LMS coefficients: 4-point Gauss–Legendre equals scipy's quad (step 5 of Karras 10, within 1e-12)", () => {
    const k = createSampler('lms', 10, 'karras', sd).sigmas;
    assertClose(
      [0, 1, 2, 3].map((j) => linearMultistepCoeff(4, k, 5, j)),
      [-0.7017306677171488, 0.30910891447225075, -0.08273482666315596, 0.008201120305521394],
      1e-12,
      'lms',
    );
    assert.throws(() => linearMultistepCoeff(4, k, 2, 0), /Order 4 too high for step 2/);
  });
});

describe('samplers: known limits on the exact Gaussian denoiser', () => {
  // The probability-flow ODE from x_T at sigma_max has the closed-form solution
  // x(σ) = x_T · sqrt(s² + σ²) / sqrt(s² + σ_max²) (VE scale). An ODE sampler must converge to it:
  // its error falls as the steps double until it meets the floor of the last step (sigma_min to 0
  // in one Euler or denoising step: about (σ_min/s)²/2 ≈ 7e-4), and is small at 200 steps.
  const exactVe = (sigma: number, sigma0: number) => X_T.map((v) => v * sigma0 * Math.sqrt((S_DATA ** 2 + sigma ** 2) / (S_DATA ** 2 + sigma0 ** 2)));
  const sigmaOfT = (t: number) => Math.sqrt((1 - sd.alphasCumprod[t]) / sd.alphasCumprod[t]);

  /** Where the sampler should end: sigma 0 (VE), or the VP latent at its last timestep (timestep samplers). */
  function exact(kind: SamplerKind, s: Sampler): number[] {
    if (s.initNoiseSigma !== 1) return exactVe(0, s.sigmas[0]);
    // Timestep samplers start from x_T in the VP scale at timestep 999 and end at timestep 1
    // (DDIM, PLMS: the lowest DDIM timestep) or 0 (UniPC: t = 1/N).
    const sigma0 = sigmaOfT(999);
    const end = kind === 'unipc' ? 0 : 1;
    const aEnd = sd.alphasCumprod[end];
    return exactVe(sigmaOfT(end), sigma0).map((v) => (v / sigma0) * Math.sqrt(1 + sigma0 ** 2) * Math.sqrt(aEnd));
  }

  async function relativeError(kind: SamplerKind, steps: number, options = {}): Promise<number> {
    const s = createSampler(kind, steps, 'automatic', sd, options);
    const r = await runGaussian(s);
    const e = exact(kind, s);
    return Math.max(...e.map((v, k) => Math.abs(r.out[k] - v) / Math.abs(v)));
  }

  const cases: [SamplerKind, number, object][] = [
    ['euler', 1e-2, {}],
    ['heun', 1e-3, {}],
    ['lms', 1e-3, {}],
    ['dpm2', 1e-3, {}],
    ['dpmpp_2m', 1e-3, {}],
    ['ddim', 1e-2, {}],
    ['plms', 1e-3, {}],
    ['unipc', 2e-3, {}],
    ['dpmpp_sde', 1e-3, { eta: 0 }],
    ['dpmpp_2m_sde', 1e-3, { eta: 0 }],
    ['dpmpp_2m_sde_heun', 1e-3, { eta: 0 }],
    ['dpmpp_3m_sde', 1e-3, { eta: 0 }],
  ];
  for (const [kind, tol, options] of cases) {
    const what = Object.keys(options).length ? `${kind} (eta 0)` : kind;
    it(`${what}: converges to the ODE solution (error falls from 50 to 100 steps or is at the floor; under ${tol} at 200)`, async () => {
      const e50 = await relativeError(kind, 50, options);
      const e100 = await relativeError(kind, 100, options);
      const e200 = await relativeError(kind, 200, options);
      assert.ok(e100 < e50 / 1.8 || e50 < 1e-3, `error 50 → 100 steps: ${e50} → ${e100}`);
      assert.ok(e200 < tol, `error at 200 steps: ${e200}`);
    });
  }
});

describe('short runs', () => {
  it('every sampler finishes 1, 2 and 3 steps with a finite latent (one-step SDE runs included)', async () => {
    for (const kind of SAMPLER_KINDS) {
      for (const steps of [1, 2, 3]) {
        const r = await runGaussian(createSampler(kind, steps, 'automatic', sd));
        assert.ok(r.out.every(Number.isFinite), `${kind}, ${steps} steps: ${Array.from(r.out)}`);
      }
    }
  });
});

describe('sampler options as A1111 passes them', () => {
  it('Eta 0 makes Euler a draw no noise and agree with Euler', async () => {
    const randn = draws();
    const a = createSampler('euler_a', 10, 'automatic', sd, { eta: 0 });
    const x = Float32Array.from(X_T, (v) => v * a.initNoiseSigma);
    const unet = async (input: Float32Array, t: number) => {
      const eps = gaussianEps(sd, input, t);
      return { guided: eps, uncond: eps };
    };
    const outA = await a.sample(Float32Array.from(x), { unet, randn, seed: 1 });
    const outE = await createSampler('euler', 10, 'automatic', sd).sample(Float32Array.from(x), { unet, randn: draws(), seed: 1 });
    // k-diffusion still draws (noise × sigma_up 0) on every step but the last.
    assert.strictEqual(randn.count(), 9);
    assertClose(outA, outE, 1e-6, 'euler a eta 0');
  });

  it("the model callback gets the sigma A1111's CFG denoiser sees: the noise level, or the timestep for DDIM", async () => {
    const seen = async (kind: SamplerKind) => {
      const out: [number, number][] = [];
      const s = createSampler(kind, 4, 'automatic', sd);
      await s.sample(Float32Array.from(X_T, (v) => v * s.initNoiseSigma), {
        unet: async (input, timestep, _multiplier, sigma) => {
          out.push([timestep, sigma]);
          const eps = gaussianEps(sd, input, timestep);
          return { guided: eps, uncond: eps };
        },
        randn: draws(),
        seed: 1,
      });
      return { s, out };
    };
    const euler = await seen('euler');
    assertClose(euler.out.map((c) => c[1]), euler.s.sigmas.subarray(0, 4), 0, 'euler sigmas');
    assertClose(euler.out.map((c) => c[0]), Array.from(euler.s.sigmas.subarray(0, 4), (v) => sd.sigmaToT(v)), 0, 'euler timesteps');
    const ddim = await seen('ddim');
    assert.deepStrictEqual(ddim.out, [[751, 751], [501, 501], [251, 251]]);
  });

  it('Discard penultimate sigma: one more step computed, the next-to-last sigma dropped', () => {
    const plain = createSampler('euler', 10, 'karras', sd);
    const cut = createSampler('euler', 10, 'karras', sd, { discardPenultimateSigma: true });
    assert.strictEqual(plain.sigmas.length, 11);
    assert.strictEqual(cut.sigmas.length, 11);
    assert.strictEqual(cut.sigmas[9], createSampler('euler', 11, 'karras', sd).sigmas[9]);
    assert.strictEqual(cut.sigmas[10], 0);
    assert.ok(cut.info.discardedPenultimateSigma);
    assert.ok(!plain.info.discardedPenultimateSigma);
    assert.ok(createSampler('dpm2', 10, 'automatic', sd).info.discardedPenultimateSigma, 'DPM2 discards on its own');
  });

  it('s_noise scales the ancestral noise: DPM2 a with s_noise 0 equals DPM2 a whose draws are all 0; Euler a is not given it', async () => {
    const unet = async (input: Float32Array, t: number) => {
      const eps = gaussianEps(sd, input, t);
      return { guided: eps, uncond: eps };
    };
    const run = (kind: SamplerKind, options: { sNoise?: number }, randn: RandnFill) => {
      const s = createSampler(kind, 8, 'automatic', sd, options);
      return s.sample(Float32Array.from(X_T, (v) => v * s.initNoiseSigma), { unet, randn, seed: 1 });
    };
    const quiet = await run('dpm2_a', { sNoise: 0 }, draws());
    const zeros = await run('dpm2_a', {}, (out) => out.fill(0));
    const noisy = await run('dpm2_a', {}, draws());
    assertClose(quiet, zeros, 1e-6, 's_noise 0');
    assert.ok(Math.abs(noisy[0] - quiet[0]) > 0.01, 'with s_noise 1 the draws count');
    // A1111's sampler_extra_params has no entry for sample_euler_ancestral: Sigma noise changes nothing.
    assert.deepStrictEqual(await run('euler_a', { sNoise: 0 }, draws()), await run('euler_a', {}, draws()));
  });

  it('Schedule type labels A1111 writes; second-order samplers count two calls per step for prompt editing', () => {
    assert.strictEqual(createSampler('dpmpp_sde', 20, 'automatic', sd).info.scheduleLabel, 'Karras');
    assert.strictEqual(createSampler('dpmpp_2m_sde', 20, 'automatic', sd).info.scheduleLabel, 'Exponential');
    assert.strictEqual(createSampler('euler', 20, 'automatic', sd).info.scheduleLabel, undefined);
    assert.strictEqual(createSampler('euler', 20, 'beta', sd).info.scheduleLabel, 'Beta');
    assert.strictEqual(createSampler('ddim', 20, 'karras', sd).info.scheduleLabel, undefined);
    assert.strictEqual(createSampler('heun', 20, 'automatic', sd).info.stepMultiplier, 2);
    assert.strictEqual(createSampler('dpmpp_sde', 20, 'automatic', sd).info.stepMultiplier, 2);
    assert.strictEqual(createSampler('euler_a', 20, 'automatic', sd).info.stepMultiplier, 1);
  });
});
