import * as assert from 'assert';
import { createSampler, NoiseSchedule } from '../../../server/src/render/pipeline/schedulers';
import { draws, X_T } from './closedForm';

/*
 * LCM's boundary condition (A1111 `LCMCompVisDenoiser.get_scaled_out`, diffusers
 * `get_scalings_for_boundary_condition_discrete`): c_skip = 0.25 / (s² + 0.25), c_out = s / sqrt(s²
 * + 0.25) with s = 10·timestep. On the usual 50-step grid the smallest timestep is 19, where c_skip
 * is 7e-6; a model whose scheduler config says original_inference_steps 1000 has a grid down to
 * timestep 0, where c_skip = 1 and c_out = 0: the last step must hand back its input latent
 * unchanged, whatever the UNet says.
 */
describe('LCM boundary condition at timestep 0', () => {
  it('original_inference_steps 1000, 3 steps: timesteps 999, 499, 0, and the last step returns its input exactly', async () => {
    const schedule = NoiseSchedule.fromConfig({ original_inference_steps: 1000 });
    const sampler = createSampler('lcm', 3, 'automatic', schedule);
    const timesteps: number[] = [];
    const xs: Float32Array[] = [];
    const denoised: Float32Array[] = [];
    const out = await sampler.sample(Float32Array.from(X_T, (v) => v * sampler.initNoiseSigma), {
      // Any eps that is not zero: the model's own estimate must not reach the last step's output.
      unet: async (input, timestep) => {
        timesteps.push(timestep);
        const eps = input.map((v, k) => 0.5 * v + 0.1 * (k + 1));
        return { guided: eps, uncond: eps };
      },
      randn: draws(),
      seed: 1,
      onStep: (s) => {
        xs.push(Float32Array.from(s.x));
        denoised.push(Float32Array.from(s.denoised));
      },
    });
    assert.deepStrictEqual(timesteps, [999, 499, 0]);
    // The input of the last step is the latent after step 2 (its estimate plus σ₂·noise).
    assert.deepStrictEqual(Array.from(out), Array.from(xs[1]));
    assert.deepStrictEqual(Array.from(denoised[2]), Array.from(xs[1]));
    // ... while the eps denoiser's own estimate there, x − σ·eps(x·c_in), is 3e-3 or more away from it.
    const sigma = sampler.sigmas[2];
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    xs[1].forEach((v, k) => assert.ok(Math.abs(sigma * (0.5 * v * cIn + 0.1 * (k + 1))) > 3e-3, `element ${k}`));
  });
});
