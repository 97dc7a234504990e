/**
 * Noise schedules and samplers, written to reproduce what AUTOMATIC1111 does (no JS library has
 * them; design §4). A1111 samples with k-diffusion over the model's discrete sigmas
 * (`k_diffusion/external.py` `CompVisDenoiser`, `k_diffusion/sampling.py`), except DDIM, DDIM
 * CFG++, PLMS and UniPC, which it runs with its own timestep samplers
 * (`modules/sd_samplers_timesteps*.py`), and LCM, which has its own 50-step denoiser
 * (`modules/sd_samplers_lcm.py`). The samplers themselves live in `samplers/`, one family per
 * file; this file holds the model's noise schedule and `createSampler`, which builds one with
 * A1111's defaults.
 *
 * Pure code: Float32Array latents, float64 scalars, no dependencies. One sampler object per
 * render; the sampler runs its own loop and calls the model through a callback (several call it
 * more than once per step):
 *
 * ```ts
 * const schedule = NoiseSchedule.fromConfig(folder.schedulerConfig);
 * const sampler = createSampler('dpmpp_sde', 20, 'automatic', schedule);
 * const x0 = initialNoise.map((v) => v * sampler.initNoiseSigma);   // N(0,1) noise in
 * const x = await sampler.sample(x0, { unet, randn, seed });          // unet(sample, timestep) → eps or v, after CFG
 * ```
 *
 * CFG may be applied to the raw UNet outputs: every sampler turns the output into a denoised
 * latent with an affine map whose coefficients do not depend on the prompt, and A1111's combine
 * (`uncond + Σ w·scale·(cond − uncond)`) has weights summing to one, so combining before or
 * after that map gives the same result (A1111 combines the denoised latents; k-diffusion samplers).
 */

import { linspace } from './samplers/linspace';
import type { Sampler } from './samplers/types';
import { DEFAULT_K_OPTIONS, KDiffusionSampler, KSamplerOptions, KSamplerSetup } from './samplers/kSampler';
import { Dpm2AncestralSampler, Dpm2Sampler, EulerAncestralSampler, EulerSampler, HeunSampler } from './samplers/karras';
import { LmsSampler } from './samplers/lms';
import {
  DpmPp2MSampler,
  DpmPp2MSdeSampler,
  DpmPp2SAncestralSampler,
  DpmPp3MSdeSampler,
  DpmPpSdeSampler,
} from './samplers/dpmSolverPlusPlus';
import { DpmAdaptiveSampler, DpmFastSampler } from './samplers/dpmSolver';
import { RestartSampler } from './samplers/restart';
import { TimestepSampler } from './samplers/timesteps';
import { UniPcSampler } from './samplers/uniPc';
import { LcmSampler } from './samplers/lcm';
import { ScheduleName, scheduleSigmas } from './samplers/schedules';
import { SamplerKind, samplerDefinition } from './samplers/registry';
import type { SamplerSettings } from './samplers/samplerParameters';

export { linspace };
export { karrasSigmas, exponentialSigmas } from './samplers/schedules';
export { a1111DdimTimesteps } from './samplers/timesteps';
export { ancestralStep } from './samplers/types';
export type { RandnFill, Sampler, SampleContext, StepInfo, UnetCall, GuidedOutput } from './samplers/types';
export type { SamplerKind } from './samplers/registry';
export type { ScheduleName } from './samplers/schedules';

// ---------------------------------------------------------------------------------------------
// scheduler_config.json

export type BetaSchedule = 'scaled_linear' | 'linear';
export type PredictionType = 'epsilon' | 'v_prediction';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** The parts of a diffusers `scheduler_config.json` that define the noise schedule. */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit betas (diffusers `trained_betas`); overrides beta_start/end/schedule when set. */
  trained_betas: readonly number[] | null;
  prediction_type: PredictionType;
  /**
   * Kept for the record: A1111's samplers never look at it (its DDIM spacing is diffusers'
   * 'leading'; the k-diffusion samplers use sigma schedules).
   */
  timestep_spacing: TimestepSpacing;
  /** Added to DDIM's timesteps. A1111 hard-codes 1, which every SD 1.x/2.x/XL config also says. */
  steps_offset: number;
  /** LCM's distillation grid (A1111 hard-codes 50, the diffusers LCM default). */
  original_inference_steps: number;
}

/** SD 1.x, SD 2.x and SDXL all ship these values (SD 2.x-v and some SDXL finetunes add v_prediction). */
export const SD_SCHEDULER_CONFIG: Readonly<SchedulerConfig> = Object.freeze({
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 1,
  original_inference_steps: 50,
});

export class SchedulerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerConfigError';
  }
}

/**
 * Reads a parsed `scheduler_config.json`. Missing keys take SD's values; keys diffusers uses only
 * for its own scheduler classes (`clip_sample`, `set_alpha_to_one`, `_class_name`, ...) are
 * ignored because A1111 ignores them too. A value that would change the noise in a way these
 * samplers do not implement is an error rather than a silently different image.
 */
export function parseSchedulerConfig(raw: unknown, source = 'scheduler_config.json'): SchedulerConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SchedulerConfigError(`${source}: expected a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  const d = SD_SCHEDULER_CONFIG;
  const fail = (key: string, value: unknown, want: string): never => {
    throw new SchedulerConfigError(`${source}: ${key} ${JSON.stringify(value)} is not supported; expected ${want}`);
  };
  const num = (key: string, fallback: number, check: (v: number) => boolean, want: string): number => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) return fail(key, v, want);
    return v;
  };
  const oneOf = <T extends string>(key: string, fallback: T, allowed: readonly T[]): T => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) return fail(key, v, allowed.join(' or '));
    return v as T;
  };

  const isInt = Number.isInteger;
  const numTrain = num('num_train_timesteps', d.num_train_timesteps, (v) => isInt(v) && v >= 2, 'an integer ≥ 2');
  const config: SchedulerConfig = {
    num_train_timesteps: numTrain,
    beta_start: num('beta_start', d.beta_start, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    beta_end: num('beta_end', d.beta_end, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    beta_schedule: oneOf<BetaSchedule>('beta_schedule', d.beta_schedule, ['scaled_linear', 'linear']),
    trained_betas: null,
    prediction_type: oneOf<PredictionType>('prediction_type', d.prediction_type, ['epsilon', 'v_prediction']),
    timestep_spacing: oneOf<TimestepSpacing>('timestep_spacing', d.timestep_spacing, [
      'leading',
      'trailing',
      'linspace',
    ]),
    steps_offset: num(
      'steps_offset',
      d.steps_offset,
      (v) => isInt(v) && v >= 0 && v < numTrain,
      'an integer from 0 to num_train_timesteps − 1',
    ),
    original_inference_steps: num(
      'original_inference_steps',
      d.original_inference_steps,
      (v) => isInt(v) && v >= 1 && v <= numTrain,
      `an integer from 1 to num_train_timesteps`,
    ),
  };
  const trained = o['trained_betas'];
  if (trained !== undefined && trained !== null) {
    if (
      !Array.isArray(trained) ||
      trained.length !== numTrain ||
      !trained.every((b) => typeof b === 'number' && b > 0 && b < 1)
    ) {
      fail('trained_betas', '[...]', `${numTrain} numbers in (0, 1)`);
    }
    config.trained_betas = trained as number[];
  }
  // Zero-terminal-SNR rescaling makes sigma_max infinite; A1111 only does it behind an option.
  if (o['rescale_betas_zero_snr'] === true) fail('rescale_betas_zero_snr', true, 'false');
  return config;
}

// ---------------------------------------------------------------------------------------------
// Discrete sigma tables (k-diffusion DiscreteSchedule)

/**
 * A mapping between continuous noise levels and a table of discrete ones, as k-diffusion's
 * `DiscreteSchedule` (sigma_to_t / t_to_sigma interpolate linearly in log-sigma).
 */
export class DiscreteSigmas {
  /** Ascending: index = training timestep. */
  readonly sigmas: Float64Array;
  readonly logSigmas: Float64Array;

  constructor(alphasCumprod: Float64Array) {
    const n = alphasCumprod.length;
    if (n < 2) throw new RangeError('a sigma table needs at least two entries');
    this.sigmas = new Float64Array(n);
    this.logSigmas = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const ac = alphasCumprod[i];
      this.sigmas[i] = Math.sqrt((1 - ac) / ac);
      this.logSigmas[i] = Math.log(this.sigmas[i]);
    }
  }

  /** k-diffusion's `sigma_min` is the table's first entry (A1111 uses it for Karras/Exponential). */
  get sigmaMin(): number {
    return this.sigmas[0];
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1];
  }

  /**
   * The fractional timestep of a sigma (the UNet's `timestep` input for k-diffusion samplers).
   * Mirrors `DiscreteSchedule.sigma_to_t(quantize=False)`: the low index is the last table entry
   * at or below sigma (0 when none is), capped so that low+1 exists; the weight is clamped, so
   * sigmas outside the table map to 0 or T−1.
   */
  sigmaToT(sigma: number): number {
    const L = this.logSigmas;
    const ls = Math.log(sigma);
    // Binary search for the count of entries <= ls (the table is strictly ascending).
    let a = 0;
    let b = L.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (L[m] <= ls) a = m + 1;
      else b = m;
    }
    const low = Math.min(Math.max(a - 1, 0), L.length - 2);
    let w = (L[low] - ls) / (L[low] - L[low + 1]);
    w = Math.min(Math.max(w, 0), 1);
    return (1 - w) * low + w * (low + 1);
  }

  /** `DiscreteSchedule.t_to_sigma`: log-linear between the neighbouring table entries. */
  tToSigma(t: number): number {
    const last = this.logSigmas.length - 1;
    const tc = Math.min(Math.max(t, 0), last);
    const low = Math.floor(tc);
    const high = Math.ceil(tc);
    const w = tc - low;
    return Math.exp((1 - w) * this.logSigmas[low] + w * this.logSigmas[high]);
  }

  /** `DiscreteSchedule.get_sigmas(n)`: t from T−1 to 0 in n even steps, then a final 0. */
  getSigmas(n: number): Float64Array {
    const t = linspace(this.sigmas.length - 1, 0, n);
    const out = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) out[i] = this.tToSigma(t[i]);
    return out;
  }
}

/**
 * The model's training noise schedule: betas, alphas_cumprod and the k-diffusion sigma table.
 * alphas_cumprod is computed in float64 and rounded to float32, as LDM/sgm store it in the
 * model buffer that A1111 reads (`register_buffer('alphas_cumprod', float32)`); the rounding moves
 * sigma_min by ~4e-5 relative, which is why it is kept.
 */
export class NoiseSchedule extends DiscreteSigmas {
  readonly config: SchedulerConfig;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
  private lcm: LcmSigmas | undefined;

  private constructor(config: SchedulerConfig, betas: Float64Array, alphasCumprod: Float64Array) {
    super(alphasCumprod);
    this.config = config;
    this.betas = betas;
    this.alphasCumprod = alphasCumprod;
  }

  /** From a parsed scheduler_config.json (validated here) or a full SchedulerConfig. */
  static fromConfig(raw: unknown = {}, source?: string): NoiseSchedule {
    const config = parseSchedulerConfig(raw, source);
    const n = config.num_train_timesteps;
    const betas = new Float64Array(n);
    if (config.trained_betas) {
      betas.set(config.trained_betas);
    } else if (config.beta_schedule === 'scaled_linear') {
      // LDM's make_beta_schedule('linear') == diffusers 'scaled_linear': linear in sqrt(beta).
      const s = linspace(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      for (let i = 0; i < n; i++) betas[i] = s[i] * s[i];
    } else {
      betas.set(linspace(config.beta_start, config.beta_end, n));
    }
    const ac = new Float64Array(n);
    let prod = 1;
    for (let i = 0; i < n; i++) {
      prod *= 1 - betas[i];
      ac[i] = Math.fround(prod);
    }
    return new NoiseSchedule(config, betas, ac);
  }

  /** A1111's LCM table over this schedule (built once). */
  lcmSigmas(): LcmSigmas {
    this.lcm ??= new LcmSigmas(this.alphasCumprod, this.config.original_inference_steps);
    return this.lcm;
  }
}

/**
 * A1111's `LCMCompVisDenoiser`: the sigma table reduced to the LCM distillation grid
 * (timesteps skip−1, 2·skip−1, ..., T−1 with skip = T / 50), and the UNet timestep quantized to
 * the nearest grid point.
 */
export class LcmSigmas extends DiscreteSigmas {
  readonly skip: number;

  constructor(alphasCumprod: Float64Array, originalSteps: number) {
    const total = alphasCumprod.length;
    const skip = Math.floor(total / originalSteps);
    const valid = new Float64Array(originalSteps);
    for (let x = 0; x < originalSteps; x++) valid[originalSteps - 1 - x] = alphasCumprod[total - 1 - x * skip];
    super(valid);
    this.skip = skip;
  }

  /** The grid timestep nearest in log-sigma (first one on a tie, as torch.argmin). */
  timestepOf(sigma: number): number {
    const ls = Math.log(sigma);
    let best = 0;
    for (let k = 1; k < this.logSigmas.length; k++) {
      if (Math.abs(ls - this.logSigmas[k]) < Math.abs(ls - this.logSigmas[best])) best = k;
    }
    return best * this.skip + (this.skip - 1);
  }

  /** The sigma of a (fractional) training timestep, interpolated over the grid. */
  sigmaOfTimestep(timestep: number): number {
    return this.tToSigma((timestep - (this.skip - 1)) / this.skip);
  }

  /** `LCMCompVisDenoiser.get_sigmas(n)`: timesteps from the grid's last to its first, evenly. */
  override getSigmas(n: number): Float64Array {
    const start = this.timestepOf(this.sigmaMax);
    const end = this.timestepOf(this.sigmaMin);
    const t = linspace(start, end, n);
    const out = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) out[i] = this.sigmaOfTimestep(t[i]);
    return out;
  }
}


// ---------------------------------------------------------------------------------------------
// Samplers

/** A1111 "Schedule type" values: 'automatic' is the sampler's own default. */
export type ScheduleType = 'automatic' | ScheduleName;

/**
 * A1111's sampler settings (samplers/samplerParameters.ts reads them from a parameter line): `eta`
 * is "Eta" (opts.eta_ancestral, default 1) for the k-diffusion samplers that take eta (Euler a,
 * DPM2 a, DPM++ 2S a, the SDE samplers, DPM fast/adaptive); `etaDdim` is "Eta DDIM"
 * (opts.eta_ddim, default 0) for DDIM and DDIM CFG++; `sNoise` "Sigma noise" (default 1) and
 * `sChurn`/`sTmin`/`sTmax` (Euler, Heun, DPM2) for the samplers that take them;
 * `discardPenultimateSigma` "Always discard next-to-last sigma"; `sigmaMin`/`sigmaMax`/`rho`
 * ("Schedule min/max sigma", "Schedule rho"; 0 or absent: the defaults); the Beta schedule's
 * alpha and beta (default 0.6 each); `sgmNoiseMultiplier`.
 */
export interface SamplerOptions extends SamplerSettings {
  /** An SDXL model: Align Your Steps takes SDXL's table. */
  sdxl?: boolean;
  /**
   * img2img (Hires. fix's second pass): run only from this index of the `steps` schedule on, as
   * A1111's sample_img2img runs `sigmas[steps - t_enc - 1:]` (k-diffusion samplers only).
   */
  img2imgStart?: number;
}

/** What `createSampler` built, beside the sampler: what A1111 would write about it in the infotext. */
export interface SamplerInfo {
  /**
   * The schedule type label A1111 writes (`Schedule type:`) after resolving "Automatic"; undefined where
   * it keeps the value it was given (Automatic for a sampler without its own schedule, the timestep samplers).
   */
  scheduleLabel: string | undefined;
  /** Whether the penultimate sigma was dropped (the sampler's own option or the user's setting). */
  discardedPenultimateSigma: boolean;
  /** Model calls A1111's prompt-editing schedule counts per step (2 for `second_order` samplers). */
  stepMultiplier: number;
}

const SCHEDULE_LABELS: Record<ScheduleName, string> = {
  uniform: 'Uniform',
  karras: 'Karras',
  exponential: 'Exponential',
  polyexponential: 'Polyexponential',
  sgm_uniform: 'SGM Uniform',
  kl_optimal: 'KL Optimal',
  align_your_steps: 'Align Your Steps',
  simple: 'Simple',
  normal: 'Normal',
  ddim: 'DDIM',
  beta: 'Beta',
};

/**
 * The schedule A1111 uses for "Automatic": the sampler's default (`options['scheduler']` in
 * sd_samplers_kdiffusion.py since 1.9: Karras for DPM++ 2M, Exponential for DPM++ 2M SDE...),
 * otherwise the model's own `get_sigmas` ('uniform'); 'ddim_timesteps' for the timestep samplers.
 */
export function defaultSchedule(kind: SamplerKind): ScheduleName | 'ddim_timesteps' {
  const def = samplerDefinition(kind);
  if (def.family === 'timesteps') return 'ddim_timesteps';
  return def.scheduler ?? 'uniform';
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
}

/**
 * Builds a sampler with A1111's defaults. `schedule` is ignored by the timestep samplers (A1111's
 * have no schedule type). Schedules take sigma_min/max from the denoiser's table, which for LCM
 * is its 50-entry grid, as in A1111.
 */
export function createSampler(
  kind: SamplerKind,
  steps: number,
  schedule: ScheduleType,
  noise: NoiseSchedule,
  options: SamplerOptions = {},
): Sampler & { readonly info: SamplerInfo } {
  checkSteps(steps);
  const def = samplerDefinition(kind);
  const prediction = noise.config.prediction_type;
  const discard = !!def.discardNextToLastSigma || !!options.discardPenultimateSigma;
  const stepMultiplier = def.secondOrder ? 2 : 1;
  // get_sigmas / get_timesteps: one more step when the penultimate sigma is to be dropped.
  const n = steps + (discard ? 1 : 0);

  if (def.family === 'timesteps') {
    const ts = { alphasCumprod: noise.alphasCumprod, numTrainTimesteps: noise.config.num_train_timesteps, stepsOffset: noise.config.steps_offset };
    const info: SamplerInfo = { scheduleLabel: undefined, discardedPenultimateSigma: discard, stepMultiplier };
    const sampler =
      kind === 'unipc'
        ? new UniPcSampler(def.label, ts, n, prediction)
        : new TimestepSampler(def.label, kind === 'ddim' ? 'ddim' : kind === 'ddim_cfgpp' ? 'ddim_cfgpp' : 'plms', ts, n, def.takesEta ? (options.etaDdim ?? 0) : 0, prediction);
    return Object.assign(sampler, { info });
  }

  const table: DiscreteSigmas = kind === 'lcm' ? noise.lcmSigmas() : noise;
  const resolved: ScheduleName = schedule === 'automatic' ? (def.scheduler ?? 'uniform') : schedule;
  let sigmas = scheduleSigmas(resolved, n, table, options);
  if (discard) {
    // torch.cat([sigmas[:-2], sigmas[-1:]]); every schedule has at least two entries (n ≥ 2 here).
    const cut = new Float64Array(sigmas.length - 1);
    cut.set(sigmas.subarray(0, sigmas.length - 2));
    cut[cut.length - 1] = sigmas[sigmas.length - 1];
    sigmas = cut;
  }
  // sample_img2img: the Brownian tree still spans the whole schedule; DPM fast/adaptive integrate
  // from sigma_sched[0] to sigma_sched[-2] instead of the model's range.
  const fullSigmas = sigmas;
  const start = options.img2imgStart;
  const img2img = start !== undefined;
  if (img2img && !(Number.isInteger(start) && start >= 0 && start < fullSigmas.length - 1)) {
    throw new RangeError(`img2img start must be an integer from 0 to ${fullSigmas.length - 2} (a ${fullSigmas.length - 1}-step schedule), got ${start}`);
  }
  sigmas = fullSigmas.slice(start ?? 0);
  // A1111 writes "Schedule type" whenever a schedule function ran (not for the model's own uniform one under Automatic).
  const scheduleLabel = schedule === 'automatic' && !def.scheduler ? undefined : SCHEDULE_LABELS[resolved];
  const info: SamplerInfo = { scheduleLabel, discardedPenultimateSigma: discard, stepMultiplier };
  const kOptions: KSamplerOptions = {
    eta: def.takesEta ? (options.eta ?? DEFAULT_K_OPTIONS.eta) : DEFAULT_K_OPTIONS.eta,
    sNoise: def.takesSNoise ? (options.sNoise ?? DEFAULT_K_OPTIONS.sNoise) : DEFAULT_K_OPTIONS.sNoise,
    sChurn: def.takesChurn ? (options.sChurn ?? DEFAULT_K_OPTIONS.sChurn) : 0,
    sTmin: def.takesChurn ? (options.sTmin ?? DEFAULT_K_OPTIONS.sTmin) : 0,
    // A1111: s_tmax 0 means infinity.
    sTmax: def.takesChurn && options.sTmax ? options.sTmax : Infinity,
  };
  const setup: KSamplerSetup = {
    label: def.label,
    sigmas,
    schedule: resolved,
    table: noise,
    prediction,
    options: kOptions,
    modelSigmaMin: img2img ? sigmas[sigmas.length - 2] : table.sigmaMin,
    modelSigmaMax: img2img ? sigmas[0] : table.sigmaMax,
    brownianSigmas: fullSigmas,
    // A1111 with opts.sgm_noise_multiplier: x = x * sqrt(1 + sigmas[0]²) instead of x * sigmas[0].
    initNoiseSigma: options.sgmNoiseMultiplier ? Math.sqrt(1 + sigmas[0] ** 2) : sigmas[0],
  };
  let sampler: KDiffusionSampler;
  switch (kind) {
    case 'euler':
      sampler = new EulerSampler(setup);
      break;
    case 'euler_a':
      sampler = new EulerAncestralSampler(setup);
      break;
    case 'heun':
      sampler = new HeunSampler(setup);
      break;
    case 'dpm2':
      sampler = new Dpm2Sampler(setup);
      break;
    case 'dpm2_a':
      sampler = new Dpm2AncestralSampler(setup);
      break;
    case 'lms':
      sampler = new LmsSampler(setup);
      break;
    case 'dpmpp_2s_a':
      sampler = new DpmPp2SAncestralSampler(setup);
      break;
    case 'dpmpp_sde':
      sampler = new DpmPpSdeSampler(setup);
      break;
    case 'dpmpp_2m':
      sampler = new DpmPp2MSampler(setup);
      break;
    case 'dpmpp_2m_sde':
    case 'dpmpp_2m_sde_heun': {
      const s = new DpmPp2MSdeSampler(setup);
      s.solverType = kind === 'dpmpp_2m_sde_heun' ? 'heun' : 'midpoint';
      sampler = s;
      break;
    }
    case 'dpmpp_3m_sde':
      sampler = new DpmPp3MSdeSampler(setup);
      break;
    case 'dpm_fast':
      sampler = new DpmFastSampler(setup);
      break;
    case 'dpm_adaptive':
      sampler = new DpmAdaptiveSampler(setup);
      break;
    case 'restart':
      sampler = new RestartSampler(setup);
      break;
    case 'lcm': {
      const lcm = noise.lcmSigmas();
      sampler = new LcmSampler(setup, lcm);
      break;
    }
    default:
      throw new RangeError(`unknown sampler kind '${kind as string}'`);
  }
  return Object.assign(sampler, { info });
}
