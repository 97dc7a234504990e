import * as assert from 'assert';
import { createSampler, Sampler, SamplerKind } from '../../../server/src/render/pipeline/schedulers';
import { BrownianNoise } from '../../../server/src/render/pipeline/samplers/brownianTree';
import { restartStepList } from '../../../server/src/render/pipeline/samplers/restart';
import { karrasSigmas } from '../../../server/src/render/pipeline/samplers/schedules';
import { assertClose, draws, gaussianEps, sd, sdeNoise, X_T } from './closedForm';

/*
 * The sampler paths the 10-step default runs of samplers.test.ts cannot see: there the exponential
 * schedule makes every step's h equal (r = h_last / h = 1, so r and 1/r agree) and eta = s_noise = 1.
 * Reference values: scripts/golden/sampler_paths.py (the numpy transcriptions of k-diffusion's and
 * A1111's samplers in a1111_samplers.py), on the same exact denoiser for Gaussian data N(0, 0.8²)
 * and the same noise. float32 latents against float64: within 1e-5 relative.
 */

interface Run {
  out: Float32Array;
  stepIndices: number[];
  randnDraws: number;
}

async function runGaussian(sampler: Sampler, noiseSampler?: (sigma: number, sigmaNext: number) => Float32Array): Promise<Run> {
  const stepIndices: number[] = [];
  const randn = draws();
  const out = await sampler.sample(
    Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma),
    {
      unet: async (input, timestep) => {
        const eps = gaussianEps(sd, input, timestep);
        return { guided: eps, uncond: eps };
      },
      randn,
      seed: 1,
      noiseSampler,
      onStep: (s) => stepIndices.push(s.i),
    },
  );
  return { out, stepIndices, randnDraws: randn.count() };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('DPM++ SDE samplers on a Karras schedule (steps of unequal h) with eta and s_noise set', () => {
  const cases: [string, SamplerKind, { eta: number; sNoise: number }, number[]][] = [
    ['DPM++ 2M SDE (midpoint), eta 0.7, s_noise 0.6', 'dpmpp_2m_sde', { eta: 0.7, sNoise: 0.6 }, [-0.16470462785648338, -0.23031169078698482, 0.1666557831803299]],
    ['DPM++ 2M SDE Heun, eta 0.7, s_noise 0.6', 'dpmpp_2m_sde_heun', { eta: 0.7, sNoise: 0.6 }, [-0.20097694447995504, -0.2719441357743135, 0.16363275335476185]],
    ['DPM++ 3M SDE (penultimate sigma discarded), eta 0.5, s_noise 0.6', 'dpmpp_3m_sde', { eta: 0.5, sNoise: 0.6 }, [0.33472605763431684, -0.06434108280445887, 0.08999528183330144]],
  ];
  for (const [label, kind, options, expected] of cases) {
    it(label, async () => {
      const noise = sdeNoise();
      const r = await runGaussian(createSampler(kind, 10, 'karras', sd, options), noise);
      assertClose(r.out, expected, 1e-5, label);
      // Noise after every step but the last (sigma_next 0 ends on the estimate itself).
      assert.strictEqual(noise.calls, 9);
      assert.deepStrictEqual(r.stepIndices, range(10));
    });
  }

  it('eta 0 draws no Brownian noise (k-diffusion: `if eta:`), so the run is deterministic', async () => {
    for (const kind of ['dpmpp_2m_sde', 'dpmpp_2m_sde_heun', 'dpmpp_3m_sde'] as const) {
      const noise = sdeNoise();
      const r = await runGaussian(createSampler(kind, 10, 'karras', sd, { eta: 0 }), noise);
      assert.strictEqual(noise.calls, 0, kind);
      assert.ok(r.out.every(Number.isFinite), kind);
    }
  });

  it("the Brownian tree spans the schedule's smallest positive sigma to its largest (not 0), seeded by the image seed", async () => {
    const sampler = createSampler('dpmpp_2m_sde', 10, 'karras', sd);
    const s = sampler.sigmas;
    assert.strictEqual(s[10], 0);
    const own = await runGaussian(sampler);
    const tree = new BrownianNoise(X_T.length, s[9], s[0], 1);
    const spanned = await runGaussian(createSampler('dpmpp_2m_sde', 10, 'karras', sd), (a, b) => tree.noise(a, b));
    assertClose(own.out, spanned.out, 0, 'tree over [sigma_min, sigma_max]');
    const fromZero = new BrownianNoise(X_T.length, 1e-9, s[0], 1);
    const other = await runGaussian(createSampler('dpmpp_2m_sde', 10, 'karras', sd), (a, b) => fromZero.noise(a, b));
    assert.ok(Math.abs(other.out[0] - own.out[0]) > 1e-4, `a tree over another interval gives other noise: ${other.out[0]} vs ${own.out[0]}`);
  });

  it("DPM++ 2S a draws the image generator's noise on every step but the last, as k-diffusion (the hires pass draws next)", async () => {
    const r = await runGaussian(createSampler('dpmpp_2s_a', 10, 'karras', sd));
    assert.strictEqual(r.randnDraws, 9);
    assert.deepStrictEqual(r.stepIndices, range(10));
  });
});

describe('Restart: its step list from 36 steps, and the restart it skips', () => {
  it('36 steps: 18 Karras steps and two restarts of 9 (restart_times 2 from 36 steps on); the latent as A1111', async () => {
    const sampler = createSampler('restart', 36, 'automatic', sd);
    const list = restartStepList(sampler.sigmas);
    assert.strictEqual(list.length, 36);
    const ups = list.filter((s, k) => k > 0 && s[0] > list[k - 1][1]);
    assert.strictEqual(ups.length, 2, 'two jumps back up to sigma ≈ 2');
    const r = await runGaussian(sampler);
    assertClose(r.out, [1.0007021933897933, 0.5292223871013451, 0.1092491667677189], 1e-5, 'restart 36');
    // Each pair of the list is one reported step, numbered from 0 (A1111's callback step counter).
    assert.deepStrictEqual(r.stepIndices, range(36));
  });

  it('no restart when the sigma nearest 2 is the one nearest 0.1 (Karras 20 steps from 1e6 to 0.1: 11 steps, as A1111)', () => {
    const list = restartStepList(karrasSigmas(20, 0.1, 1e6));
    assert.strictEqual(list.length, 11);
    for (let k = 1; k < list.length; k++) assert.strictEqual(list[k][0], list[k - 1][1], `step ${k} continues where the last ended`);
  });
});

describe('UniPC: its noise levels and step numbering', () => {
  it("sigmas: sqrt(1 − α_t²)/α_t at A1111's times t = linspace(1, 1/N, steps + 1)", () => {
    const sampler = createSampler('unipc', 10, 'automatic', sd);
    assertClose(
      sampler.sigmas,
      [14.614641489691587, 8.307172567420938, 5.092408180068475, 3.325070028841588, 2.2797313774453642, 1.6155815459139817, 1.1628657981006243, 0.8318849349970601, 0.5711900856782912, 0.3437060604014017, 0.02916753316555422],
      1e-9,
      'unipc sigmas',
    );
  });

  it('reports steps 0 to 9 in order for 10 steps', async () => {
    const r = await runGaussian(createSampler('unipc', 10, 'automatic', sd));
    assert.deepStrictEqual(r.stepIndices, range(10));
  });
});
