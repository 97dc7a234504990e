import * as assert from 'assert';
import { NoiseSchedule, RandnFill, SD_SCHEDULER_CONFIG } from '../../../server/src/render/pipeline/schedulers';

/*
 * The closed-form world the sampler tests run in, kept once so that a fix to it reaches every test
 * that compares a sampler with the numpy transcriptions. Each piece mirrors its namesake in
 * scripts/golden/a1111_samplers.py (S_DATA, X_T, gaussian_eps_model, Draws, noise_sampler), which
 * sampler_paths.py, dpm_solver_cases.py, schedulers_mutants.py and a1111_schedule_options.py import:
 * the expected values pasted in the specs are those scripts' output, so these must compute what the
 * scripts compute, or every comparison is against another model.
 */

/** Standard deviation of the Gaussian data the exact denoiser is exact for. */
export const S_DATA = 0.8;

/** The starting latent before scaling by sigma_max, as the transcription's X_T. */
export const X_T = [0.8, -0.6, 1.1];

/** SD 1.5's noise schedule (scaled-linear betas, 1000 steps): the sigma table every reference used. */
export const sd = NoiseSchedule.fromConfig(SD_SCHEDULER_CONFIG);

/**
 * The optimal eps for data ~ N(0, S_DATA²) at the sigma the timestep stands for (clamped into the
 * table, as the model's timestep input is), as gaussian_eps_model: a "UNet" whose sampler output
 * has a closed form, so a sampler's arithmetic is checked without a network. The input is c_in·x
 * for the k-diffusion samplers, or the VP latent for the timestep samplers.
 */
export function gaussianEps(schedule: NoiseSchedule, input: Float32Array, timestep: number): Float32Array {
  const s = schedule.tToSigma(Math.min(Math.max(timestep, 0), schedule.sigmas.length - 1));
  const f = (Math.sqrt(1 + s * s) * s) / (S_DATA * S_DATA + s * s);
  return input.map((v) => v * f);
}

/**
 * The image noise generator the transcription uses (Draws): draw j is sin(j + 1 + 0.7k), so each
 * draw differs and a sampler that takes one draw too many or too few ends elsewhere. count() says
 * how many draws were taken.
 */
export function draws(): RandnFill & { count: () => number } {
  let j = 0;
  const fill = (out: Float32Array) => {
    for (let k = 0; k < out.length; k++) out[k] = Math.sin(j + 1 + 0.7 * k);
    j++;
  };
  return Object.assign(fill, { count: () => j });
}

/**
 * The SDE samplers' noise sampler of the transcription (noise_sampler): sin(3σ + 5σ_next + 0.9k),
 * a function of the interval so a sampler that asks for the wrong interval gets other noise.
 * `calls` counts how often it was asked.
 */
export function sdeNoise(): ((sigma: number, sigmaNext: number) => Float32Array) & { calls: number } {
  const f = Object.assign(
    (sigma: number, sigmaNext: number) => {
      f.calls++;
      return Float32Array.from(X_T, (_, k) => Math.sin(3 * sigma + 5 * sigmaNext + 0.9 * k));
    },
    { calls: 0 },
  );
  return f;
}

/**
 * |actual − expected| ≤ tol·max(floor, |expected|) for every entry, with the same length. The
 * default floor 1 makes tol absolute for values under 1 (float32 latents near 0 against float64
 * references); floor 1e-300 makes it purely relative (schedule tails and probabilities far below 1).
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = '', floor = 1): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(floor, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (err ${err})`);
  }
}
