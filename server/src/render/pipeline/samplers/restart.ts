/**
 * A1111's "Restart" sampler (`modules/sd_samplers_extra.restart_sampler`, Xu et al. 2023): Heun
 * steps down a Karras schedule; with 20 steps or more, the schedule is shortened and, on reaching
 * sigma ≈ 0.1, the latent is noised back up to sigma ≈ 2 (a fresh draw from the image's
 * generator) and walked down again (once, or twice from 36 steps).
 */
import type { Denoiser } from './denoiser';
import { KDiffusionSampler, KSamplerSetup } from './kSampler';
import { karrasSigmas } from './schedules';
import { addNoise, addScaled, SampleContext, toD } from './types';

/** torch.argmin(abs(sigmas - value)): the first index nearest to value. */
function nearestIndex(sigmas: ArrayLike<number>, value: number): number {
  let best = 0;
  for (let k = 1; k < sigmas.length; k++) if (Math.abs(sigmas[k] - value) < Math.abs(sigmas[best] - value)) best = k;
  return best;
}

/** The (old_sigma, new_sigma) pairs restart_sampler walks, restarts included. */
export function restartStepList(input: Float64Array): [number, number][] {
  let sigmas = input;
  const steps = sigmas.length - 1;
  let restart: { index: number; steps: number; times: number; max: number } | undefined;
  if (steps >= 20) {
    let restartSteps = 9;
    let restartTimes = 1;
    if (steps >= 36) {
      restartSteps = Math.floor(steps / 4);
      restartTimes = 2;
    }
    sigmas = karrasSigmas(steps - restartSteps * restartTimes, sigmas[sigmas.length - 2], sigmas[0]);
    // restart_list = {0.1: [restart_steps + 1, restart_times, 2]}, keyed by the index nearest 0.1.
    restart = { index: nearestIndex(sigmas, 0.1), steps: restartSteps + 1, times: restartTimes, max: 2 };
  }
  const list: [number, number][] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    list.push([sigmas[i], sigmas[i + 1]]);
    if (restart && i + 1 === restart.index) {
      const minIdx = i + 1;
      const maxIdx = nearestIndex(sigmas, restart.max);
      if (maxIdx < minIdx) {
        const full = karrasSigmas(restart.steps, sigmas[minIdx], sigmas[maxIdx]);
        const sigmaRestart = full.subarray(0, full.length - 1);
        for (let times = restart.times; times > 0; times--) {
          for (let k = 0; k < sigmaRestart.length - 1; k++) list.push([sigmaRestart[k], sigmaRestart[k + 1]]);
        }
      }
    }
  }
  return list;
}

export class RestartSampler extends KDiffusionSampler {
  private readonly stepList: [number, number][];

  constructor(setup: KSamplerSetup) {
    super(setup);
    this.stepList = restartStepList(setup.sigmas);
    (this as { steps: number }).steps = this.stepList.length;
  }

  protected async run(x: Float32Array, model: Denoiser, context: SampleContext): Promise<Float32Array> {
    x = Float32Array.from(x);
    // restart_sampler takes s_noise (default 1) but A1111 passes it none: sampler_extra_params has no entry.
    const sNoise = 1;
    let lastSigma: number | undefined;
    let stepId = 0;
    for (const [oldSigma, newSigma] of this.stepList) {
      if (lastSigma === undefined) lastSigma = oldSigma;
      else if (lastSigma < oldSigma) addNoise(x, sNoise * Math.sqrt(oldSigma ** 2 - lastSigma ** 2), context.randn);
      // heun_step
      const denoised = await model(x, oldSigma);
      const d = toD(x, oldSigma, denoised);
      const dt = newSigma - oldSigma;
      if (newSigma === 0) {
        addScaled(x, dt, d);
      } else {
        const x2 = addScaled(Float32Array.from(x), dt, d);
        const d2 = toD(x2, newSigma, await model(x2, newSigma));
        for (let k = 0; k < x.length; k++) x[k] += ((d[k] + d2[k]) / 2) * dt;
      }
      context.onStep?.({ i: stepId++, x, denoised });
      lastSigma = newSigma;
    }
    return x;
  }
}
