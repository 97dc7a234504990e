import { createSampler } from '../../../server/src/render/pipeline/schedulers';
import { assertClose, draws, gaussianEps, sd, X_T } from './closedForm';

/*
 * Euler with A1111's "Sigma churn" / "Sigma tmin" / "Sigma tmax" / "Sigma noise" (Algorithm 2 of
 * Karras et al., k-diffusion `sample_euler` at A1111's pinned commit: eps drawn on every step, added
 * only where s_tmin ≤ sigma ≤ s_tmax), against scripts/golden/a1111_schedule_options.py on the exact
 * denoiser for Gaussian data (as samplers.test.ts), Karras schedule, 10 steps. Draw j is
 * sin(j + 1 + 0.7k). Float32 latents against float64: within 1e-5 relative.
 */

async function eulerWithChurn(options: { sChurn: number; sTmin?: number; sTmax?: number; sNoise?: number }): Promise<Float32Array> {
  const sampler = createSampler('euler', 10, 'karras', sd, options);
  return sampler.sample(
    Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma),
    {
      unet: async (input, timestep) => {
        const eps = gaussianEps(sd, input, timestep);
        return { guided: eps, uncond: eps };
      },
      randn: draws(),
      seed: 1,
    },
  );
}

describe('Euler with sigma churn (k-diffusion Algorithm 2, against scripts/golden/a1111_schedule_options.py)', () => {
  const karras10 = createSampler('euler', 10, 'karras', sd).sigmas;

  it('the window edges are the schedule sigmas the reference uses', () => {
    assertClose([karras10[2], karras10[5]], [5.4783994829328115, 0.9140762672556761], 1e-12, 'karras sigmas');
  });

  it('churn 1 inside [sigma_5, sigma_2] (both edges included), noise 0.7: the final latent', async () => {
    // gamma = min(1/10, √2 − 1) on steps 2..5 only; every step draws.
    const out = await eulerWithChurn({ sChurn: 1, sTmin: karras10[5], sTmax: karras10[2], sNoise: 0.7 });
    assertClose(out, [0.06657820455094474, -0.5526267358233402, 0.41394342354324576], 1e-5, 'churn 1 window');
  });

  it('churn 20 everywhere is capped at gamma = √2 − 1: the final latent', async () => {
    const out = await eulerWithChurn({ sChurn: 20 });
    assertClose(out, [0.129043197668554, 0.15062754121149552, 0.3006052168258125], 1e-5, 'churn 20');
  });
});
