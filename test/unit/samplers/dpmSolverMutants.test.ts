import * as assert from 'assert';
import { createSampler, Sampler } from '../../../server/src/render/pipeline/schedulers';
import { assertClose, draws, gaussianEps, sd, X_T } from './closedForm';

/*
 * DPM fast and DPM adaptive (k-diffusion's DPMSolver) on what samplers.test.ts leaves out: the
 * order plan of a step count divisible by 3 (3, ..., 3, 2, 1) and of one that leaves 2 (a final
 * second-order step), Eta 0, Sigma noise, the `denoised` each step shows as the live preview, the
 * attempt counter, and a model that never meets the tolerance. Expected values: printed by
 * scripts/golden/dpm_solver_cases.py (k-diffusion's DPMSolver in numpy, float64) on the exact eps
 * of Gaussian data (std 0.8) through the SD 1.5 table, as samplers.test.ts; float32 latents
 * against float64, within 1e-5 relative.
 */

interface Run {
  out: Float32Array;
  calls: number;
  steps: { i: number; denoised: Float32Array }[];
}

async function runGaussian(sampler: Sampler, eps?: (input: Float32Array, timestep: number) => Float32Array): Promise<Run> {
  let calls = 0;
  const steps: Run['steps'] = [];
  const x = Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma);
  const out = await sampler.sample(x, {
    unet: async (input, timestep) => {
      calls++;
      const e = eps ? eps(input, timestep) : gaussianEps(sd, input, timestep);
      return { guided: e, uncond: e };
    },
    randn: draws(),
    seed: 1,
    onStep: ({ i, denoised }) => steps.push({ i, denoised: Float32Array.from(denoised) }),
  });
  return { out, calls, steps };
}

/** The preview of the first step: x_T·σ_max − σ_max·eps, the same for every case. */
const FIRST_DENOISED = [0.03492869895193529, -0.026196524213949246, 0.04802696105890547];

describe('DPM fast: the order plan, Eta and Sigma noise against k-diffusion', () => {
  it('9 steps (divisible by 3): orders 3, 3, 2, 1, exactly 9 model calls, 4 steps reported', async () => {
    const r = await runGaussian(createSampler('dpm_fast', 9, 'automatic', sd));
    assertClose(r.out, [1.4325798359740511, 0.7699095113495749, 0.5867681431484224], 1e-5, 'x');
    assert.strictEqual(r.calls, 9);
    assert.deepStrictEqual(
      r.steps.map((s) => s.i),
      [0, 1, 2, 3],
    );
    assertClose(r.steps[0].denoised, FIRST_DENOISED, 1e-5, 'denoised[0]');
    assertClose(r.steps[3].denoised, [1.423626444171871, 0.7650977016798883, 0.5831009373489818], 1e-5, 'denoised[3]');
  });

  it('11 steps: orders 3, 3, 3, 2 (the midpoint at r1 = 1/2), Sigma noise 0.5 scales the fresh noise', async () => {
    const r = await runGaussian(createSampler('dpm_fast', 11, 'automatic', sd, { sNoise: 0.5 }));
    assertClose(r.out, [0.6984027867158031, 0.23997514905296918, 0.3703135748765681], 1e-5, 'x');
    assert.strictEqual(r.calls, 11);
    assert.strictEqual(r.steps.length, 4);
    assertClose(r.steps[3].denoised, [0.6854561180337506, 0.23552660044203805, 0.36344887265374554], 1e-5, 'denoised[3]');
  });

  it('Eta 0: no noise, the deterministic solver (10 steps: orders 3, 3, 3, 1)', async () => {
    const r = await runGaussian(createSampler('dpm_fast', 10, 'automatic', sd, { eta: 0 }));
    assertClose(r.out, [0.6404409231511029, -0.48033069236332704, 0.8806062693327664], 1e-5, 'x');
    assert.strictEqual(r.calls, 10);
    assertClose(r.steps[0].denoised, FIRST_DENOISED, 1e-5, 'denoised[0]');
    assertClose(r.steps[3].denoised, [0.6364382711751849, -0.4773287033813885, 0.8751026228658791], 1e-5, 'denoised[3]');
  });
});

describe('DPM adaptive: the step size controller and the attempt counter against k-diffusion', () => {
  it('Eta 0 (controller order 3): 7 steps accepted, 2 rejected, 27 model calls; attempts numbered 0..8', async () => {
    const r = await runGaussian(createSampler('dpm_adaptive', 10, 'automatic', sd, { eta: 0 }));
    // Within 5e-4: the first steps' error estimates (~1e-9 in float64) are float32 rounding here, as in
    // k-diffusion's own float32 run, and the step sizes they set differ by ~1e-4.
    assertClose(r.out, [0.6610533730554865, -0.4957900297916148, 0.9089483879512937], 5e-4, 'x');
    assert.strictEqual(r.calls, 27);
    assert.deepStrictEqual(
      r.steps.map((s) => s.i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    assertClose(r.steps[0].denoised, FIRST_DENOISED, 1e-5, 'denoised[0]');
    assertClose(r.steps[8].denoised, [0.6586414209784072, -0.49398106573380524, 0.9056319538453096], 5e-4, 'denoised[8]');
  });

  it('Eta 1 (controller order 1.5): 13 attempts numbered 0..12, the last preview as k-diffusion; Sigma noise is not passed to it', async () => {
    const r = await runGaussian(createSampler('dpm_adaptive', 10, 'automatic', sd, { sNoise: 0.5 }));
    assertClose(r.out, [-0.10564731456650814, 0.07870014249419872, 0.4747478788175604], 1e-5, 'x');
    assert.deepStrictEqual(
      r.steps.map((s) => s.i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assertClose(r.steps[12].denoised, [-0.10489207505239137, 0.07813753986087933, 0.4713540551430323], 1e-5, 'denoised[12]');
  });

  it('a model whose output is NaN: an error naming the sigma after 10000 attempts, not an endless loop', async () => {
    const sampler = createSampler('dpm_adaptive', 10, 'automatic', sd);
    let attempts = 0;
    await assert.rejects(
      sampler.sample(new Float32Array(3).fill(1), {
        unet: async (input) => ({ guided: input.map(() => NaN), uncond: input.map(() => NaN) }),
        randn: draws(),
        seed: 1,
        onStep: () => attempts++,
      }),
      (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, /^DPM adaptive: no step met the error tolerance after 10000 attempts \(sigma 14\.61464148969158\d\)$/);
        return true;
      },
    );
    assert.strictEqual(attempts, 10000);
  });
});
