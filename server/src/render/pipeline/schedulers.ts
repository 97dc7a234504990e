/**
 * Noise schedules and samplers, written to reproduce what AUTOMATIC1111 does (no JS library has
 * them; design §4). A1111 samples with k-diffusion over the model's discrete sigmas
 * (`k_diffusion/external.py` `CompVisDenoiser`, `k_diffusion/sampling.py`), except DDIM, which
 * it runs with its own timestep sampler (`modules/sd_samplers_timesteps*.py`), and LCM, which has
 * its own 50-step denoiser (`modules/sd_samplers_lcm.py`).
 *
 * Pure code: Float32Array latents, float64 scalars, no dependencies. One sampler object per
 * render; the loop that drives it (the pipeline) looks like this:
 *
 * ```ts
 * const schedule = NoiseSchedule.fromConfig(folder.schedulerConfig);
 * const sampler = createSampler('dpmpp_2m', 20, 'automatic', schedule);
 * let x = initialNoise.map((v) => v * sampler.initNoiseSigma);  // N(0,1) noise in
 * for (let i = 0; i < sampler.steps; i++) {
 *   const input = sampler.scaleModelInput(x, i);
 *   const out = unet(input, sampler.timesteps[i]);               // eps or v, after CFG
 *   ({ x } = sampler.step(out, i, x, randn));
 * }
 * ```
 *
 * CFG may be applied to the raw UNet outputs: every sampler turns the output into a denoised
 * latent with an affine map whose coefficients do not depend on the prompt, and A1111's combine
 * (`uncond + Σ w·scale·(cond − uncond)`) has weights summing to one, so combining before or
 * after that map gives the same result (A1111 combines the denoised latents; k-diffusion samplers).
 */

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
 * `torch.linspace(start, end, n)` as torch evaluates it (from both ends towards the middle), so
 * the endpoints are exact and the grid matches k-diffusion's to the last float.
 */
export function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? start + i * step : end - (n - 1 - i) * step;
  return out;
}

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

/** k-diffusion `get_sigmas_karras(n, sigma_min, sigma_max, rho)` (Karras et al. 2022), then 0. */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const ramp = linspace(0, 1, n);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = (maxInv + ramp[i] * (minInv - maxInv)) ** rho;
  return out;
}

/** k-diffusion `get_sigmas_exponential`: even steps in log-sigma, then 0. */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  const l = linspace(Math.log(sigmaMax), Math.log(sigmaMin), n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.exp(l[i]);
  return out;
}

/**
 * A1111's DDIM timesteps (`CompVisSampler.get_timesteps`), ascending:
 * `clip(range(0, T, T // steps) + offset, 0, T−1)`. Note the length is ceil(T / (T // steps)),
 * which is `steps` only when the stride divides T evenly (30 steps give 31 entries).
 */
export function a1111DdimTimesteps(steps: number, numTrainTimesteps = 1000, stepsOffset = 1): Int32Array {
  checkSteps(steps);
  const stride = Math.floor(numTrainTimesteps / steps);
  if (stride < 1) throw new RangeError(`DDIM needs steps ≤ ${numTrainTimesteps}, got ${steps}`);
  const out: number[] = [];
  for (let t = 0; t < numTrainTimesteps; t += stride) {
    out.push(Math.min(Math.max(t + stepsOffset, 0), numTrainTimesteps - 1));
  }
  return Int32Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Samplers

export type SamplerKind = 'euler' | 'euler_a' | 'ddim' | 'dpmpp_2m' | 'lcm';
/** A1111 "Schedule type" values these samplers support. */
export type ScheduleType = 'automatic' | 'uniform' | 'karras' | 'exponential';
/** What a sampler actually stepped over: a sigma schedule, or DDIM's own timesteps. */
export type ResolvedSchedule = Exclude<ScheduleType, 'automatic'> | 'ddim_timesteps';

/** Fills the array with independent N(0, 1) samples (the pipeline's seeded generator). */
export type RandnFill = (out: Float32Array) => void;

export interface StepOutput {
  /** The latent after this step (input to step i+1, or the result after the last). */
  x: Float32Array;
  /** The model's estimate of the clean latent at this step (for previews). */
  denoised: Float32Array;
}

export interface SamplerOptions {
  /**
   * Euler a: A1111 "Eta" (opts.eta_ancestral, default 1). DDIM: "Eta DDIM" (opts.eta_ddim,
   * default 0). Ignored by the others.
   */
  eta?: number;
  /** Euler a: the noise multiplier s_noise (A1111 opts.s_noise, default 1). */
  sNoise?: number;
}

/**
 * A sampler for one render. Call `step` for i = 0, 1, ..., steps−1 in order (DPM++ 2M keeps the
 * previous step's estimate; an out-of-order call throws).
 */
export interface Sampler {
  readonly kind: SamplerKind;
  readonly schedule: ResolvedSchedule;
  /** Model evaluations: the length of `timesteps`. */
  readonly steps: number;
  /** The UNet `timestep` input for each step: fractional for Euler/Euler a/DPM++ 2M, integer for DDIM and LCM. */
  readonly timesteps: Float64Array;
  /**
   * The noise level before each step and after the last (steps + 1 entries). For k-diffusion
   * samplers this is the schedule itself, ending in 0; for DDIM it is sqrt((1−ᾱ)/ᾱ) of its timesteps.
   */
  readonly sigmas: Float64Array;
  /** Multiply the N(0,1) starting latent by this (k-diffusion: sigmas[0]; DDIM: 1). */
  readonly initNoiseSigma: number;
  /** The UNet `sample` input for step i (a new array). */
  scaleModelInput(x: Float32Array, i: number): Float32Array;
  /** Advances x past step i given the UNet output (eps or v per prediction_type, after CFG). */
  step(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput;
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
}

function checkLengths(modelOutput: Float32Array, x: Float32Array): void {
  if (modelOutput.length !== x.length) {
    throw new RangeError(`model output has ${modelOutput.length} values, the latent ${x.length}`);
  }
}

/** Base of the k-diffusion samplers: a sigma schedule, c_in scaling and the denoiser formulas. */
abstract class KDiffusionSampler implements Sampler {
  abstract readonly kind: SamplerKind;
  readonly steps: number;
  readonly timesteps: Float64Array;
  readonly initNoiseSigma: number;
  private expected = 0;

  constructor(
    readonly sigmas: Float64Array,
    readonly schedule: ResolvedSchedule,
    protected readonly prediction: PredictionType,
    timestepOf: (sigma: number) => number,
  ) {
    this.steps = sigmas.length - 1;
    this.timesteps = new Float64Array(this.steps);
    for (let i = 0; i < this.steps; i++) this.timesteps[i] = timestepOf(sigmas[i]);
    // A1111 KDiffusionSampler.sample: x = x * sigmas[0] (opts.sgm_noise_multiplier off).
    this.initNoiseSigma = sigmas[0];
  }

  scaleModelInput(x: Float32Array, i: number): Float32Array {
    const s = this.sigmas[i];
    const cIn = 1 / Math.sqrt(s * s + 1);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k] * cIn;
    return out;
  }

  /**
   * CompVisDenoiser: denoised = x − σ·eps. CompVisVDenoiser (v_prediction):
   * denoised = x/(σ²+1) − σ·v/sqrt(σ²+1).
   */
  protected denoise(modelOutput: Float32Array, x: Float32Array, sigma: number): Float32Array {
    const out = new Float32Array(x.length);
    if (this.prediction === 'epsilon') {
      for (let k = 0; k < x.length; k++) out[k] = x[k] - sigma * modelOutput[k];
    } else {
      const cSkip = 1 / (sigma * sigma + 1);
      const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
      for (let k = 0; k < x.length; k++) out[k] = x[k] * cSkip + modelOutput[k] * cOut;
    }
    return out;
  }

  step(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput {
    checkLengths(modelOutput, x);
    if (i !== this.expected) throw new RangeError(`${this.kind}: step ${i} called, expected step ${this.expected}`);
    this.expected++;
    return this.advance(modelOutput, i, x, randn);
  }

  protected abstract advance(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput;
}

/** k-diffusion `sample_euler` with s_churn = 0 (A1111's default), so no noise is added. */
class EulerSampler extends KDiffusionSampler {
  readonly kind = 'euler';

  protected advance(modelOutput: Float32Array, i: number, x: Float32Array): StepOutput {
    const s = this.sigmas[i];
    const dt = this.sigmas[i + 1] - s;
    const denoised = this.denoise(modelOutput, x, s);
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = x[k] + ((x[k] - denoised[k]) / s) * dt;
    return { x: next, denoised };
  }
}

/** k-diffusion `get_ancestral_step`: how far to step down deterministically, how much noise to add. */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(sigmaTo, eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
  const sigmaDown = Math.sqrt(Math.max(sigmaTo ** 2 - sigmaUp ** 2, 0));
  return { sigmaDown, sigmaUp };
}

/** k-diffusion `sample_euler_ancestral` ("Euler a"). */
class EulerAncestralSampler extends KDiffusionSampler {
  readonly kind = 'euler_a';

  constructor(
    sigmas: Float64Array,
    schedule: ResolvedSchedule,
    prediction: PredictionType,
    timestepOf: (sigma: number) => number,
    private readonly eta: number,
    private readonly sNoise: number,
  ) {
    super(sigmas, schedule, prediction, timestepOf);
  }

  protected advance(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput {
    const s = this.sigmas[i];
    const sNext = this.sigmas[i + 1];
    const { sigmaDown, sigmaUp } = ancestralStep(s, sNext, this.eta);
    const denoised = this.denoise(modelOutput, x, s);
    const dt = sigmaDown - s;
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) next[k] = x[k] + ((x[k] - denoised[k]) / s) * dt;
    // k-diffusion draws noise only while sigma_next > 0; skipping a zero-weight draw changes nothing.
    const up = sigmaUp * this.sNoise;
    if (sNext > 0 && up !== 0) {
      const z = new Float32Array(x.length);
      randn(z);
      for (let k = 0; k < x.length; k++) next[k] += z[k] * up;
    }
    return { x: next, denoised };
  }
}

/** k-diffusion `sample_dpmpp_2m` (DPM-Solver++(2M), Lu et al. 2022), in t = −log σ. */
class DpmPp2MSampler extends KDiffusionSampler {
  readonly kind = 'dpmpp_2m';
  private oldDenoised: Float32Array | undefined;

  protected advance(modelOutput: Float32Array, i: number, x: Float32Array): StepOutput {
    const s = this.sigmas[i];
    const sNext = this.sigmas[i + 1];
    const denoised = this.denoise(modelOutput, x, s);
    const next = new Float32Array(x.length);
    if (sNext === 0) {
      // σ_next/σ = 0 and −expm1(−h) = 1 as h → ∞: the result is the estimate itself.
      next.set(denoised);
    } else {
      const t = -Math.log(s);
      const tNext = -Math.log(sNext);
      const h = tNext - t;
      const ratio = sNext / s;
      const coef = -Math.expm1(-h);
      const old = this.oldDenoised;
      if (old === undefined) {
        for (let k = 0; k < x.length; k++) next[k] = ratio * x[k] + coef * denoised[k];
      } else {
        const hLast = t + Math.log(this.sigmas[i - 1]);
        const r = hLast / h;
        const a = 1 + 1 / (2 * r);
        const b = 1 / (2 * r);
        for (let k = 0; k < x.length; k++) next[k] = ratio * x[k] + coef * (a * denoised[k] - b * old[k]);
      }
    }
    this.oldDenoised = denoised;
    return { x: next, denoised };
  }
}

/**
 * A1111's LCM (`sd_samplers_lcm.py`): the UNet sees the quantized grid timestep; its estimate
 * goes through LCM's boundary condition (sigma_data 0.5, timestep scaling 10, applied to the
 * unscaled latent as A1111 does); then x = denoised + σ_next·fresh noise.
 */
class LcmSampler extends KDiffusionSampler {
  readonly kind = 'lcm';

  protected advance(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput {
    const sNext = this.sigmas[i + 1];
    // A1111 assumes eps; a v model gets the CompVisVDenoiser conversion first (an extension).
    const denoised = this.denoise(modelOutput, x, this.sigmas[i]);
    const scaled = this.timesteps[i] * 10;
    const cSkip = 0.25 / (scaled * scaled + 0.25);
    const cOut = scaled / Math.sqrt(scaled * scaled + 0.25);
    for (let k = 0; k < x.length; k++) denoised[k] = cOut * denoised[k] + cSkip * x[k];
    const next = Float32Array.from(denoised);
    if (sNext > 0) {
      const z = new Float32Array(x.length);
      randn(z);
      for (let k = 0; k < x.length; k++) next[k] += sNext * z[k];
    }
    return { x: next, denoised };
  }
}

/**
 * A1111's DDIM (`sd_samplers_timesteps_impl.ddim`) over `a1111DdimTimesteps`. It walks the list
 * from the top and each step lands on the next lower entry, so it makes len−1 model calls and
 * ends on ᾱ of the lowest entry (timestep 1), not on a clean x0: 20 steps are 19 UNet calls from
 * t=951 to t=51, leaving sqrt(1−ᾱ₁)≈0.041 of the noise estimate in the result, exactly as A1111.
 * The latent is in the VP scale: no input scaling, initial noise N(0,1).
 */
class DdimSampler implements Sampler {
  readonly kind = 'ddim';
  readonly schedule = 'ddim_timesteps';
  readonly steps: number;
  readonly timesteps: Float64Array;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly aT: Float64Array;
  private readonly aPrev: Float64Array;
  private readonly sigmaT: Float64Array;
  private expected = 0;

  constructor(
    noise: NoiseSchedule,
    requestedSteps: number,
    eta: number,
    private readonly prediction: PredictionType,
  ) {
    const ts = a1111DdimTimesteps(requestedSteps, noise.config.num_train_timesteps, noise.config.steps_offset);
    const ac = noise.alphasCumprod;
    this.steps = ts.length - 1;
    this.timesteps = new Float64Array(this.steps);
    this.aT = new Float64Array(this.steps);
    this.aPrev = new Float64Array(this.steps);
    this.sigmaT = new Float64Array(this.steps);
    this.sigmas = new Float64Array(this.steps + 1);
    for (let i = 0; i < this.steps; i++) {
      const index = ts.length - 1 - i;
      const a = ac[ts[index]];
      const ap = ac[ts[index - 1]];
      this.timesteps[i] = ts[index];
      this.aT[i] = a;
      this.aPrev[i] = ap;
      this.sigmaT[i] = eta * Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap));
      this.sigmas[i] = Math.sqrt((1 - a) / a);
    }
    const last = ac[ts[0]];
    this.sigmas[this.steps] = Math.sqrt((1 - last) / last);
  }

  scaleModelInput(x: Float32Array): Float32Array {
    return Float32Array.from(x);
  }

  step(modelOutput: Float32Array, i: number, x: Float32Array, randn: RandnFill): StepOutput {
    checkLengths(modelOutput, x);
    if (i !== this.expected) throw new RangeError(`ddim: step ${i} called, expected step ${this.expected}`);
    this.expected++;
    const a = this.aT[i];
    const ap = this.aPrev[i];
    const sig = this.sigmaT[i];
    const sqrtA = Math.sqrt(a);
    const sqrt1mA = Math.sqrt(1 - a);
    const dirCoef = Math.sqrt(Math.max(1 - ap - sig * sig, 0));
    const sqrtAp = Math.sqrt(ap);
    const denoised = new Float32Array(x.length);
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      // CompVisTimestepsVDenoiser: eps = sqrt(ᾱ)·v + sqrt(1−ᾱ)·x.
      const e = this.prediction === 'epsilon' ? modelOutput[k] : sqrtA * modelOutput[k] + sqrt1mA * x[k];
      const x0 = (x[k] - sqrt1mA * e) / sqrtA;
      denoised[k] = x0;
      next[k] = sqrtAp * x0 + dirCoef * e;
    }
    if (sig > 0) {
      const z = new Float32Array(x.length);
      randn(z);
      for (let k = 0; k < x.length; k++) next[k] += sig * z[k];
    }
    return { x: next, denoised };
  }
}

/**
 * The schedule A1111 uses for "Automatic": the sampler's default (`options['scheduler']` in
 * sd_samplers_kdiffusion.py since 1.9: Karras for DPM++ 2M), otherwise the model's own
 * `get_sigmas` ('uniform').
 */
export function defaultSchedule(kind: SamplerKind): ResolvedSchedule {
  switch (kind) {
    case 'dpmpp_2m':
      return 'karras';
    case 'ddim':
      return 'ddim_timesteps';
    default:
      return 'uniform';
  }
}

/**
 * Builds a sampler. `schedule` is ignored by DDIM (A1111's timestep samplers have no schedule
 * type). Uniform/Karras/Exponential take sigma_min/max from the denoiser's table, which for LCM
 * is its 50-entry grid, as in A1111.
 */
export function createSampler(
  kind: SamplerKind,
  steps: number,
  schedule: ScheduleType,
  noise: NoiseSchedule,
  options: SamplerOptions = {},
): Sampler {
  checkSteps(steps);
  const prediction = noise.config.prediction_type;
  if (kind === 'ddim') return new DdimSampler(noise, steps, options.eta ?? 0, prediction);

  const table: DiscreteSigmas = kind === 'lcm' ? noise.lcmSigmas() : noise;
  const resolved = schedule === 'automatic' ? defaultSchedule(kind) : schedule;
  let sigmas: Float64Array;
  switch (resolved) {
    case 'karras':
      sigmas = karrasSigmas(steps, table.sigmaMin, table.sigmaMax);
      break;
    case 'exponential':
      sigmas = exponentialSigmas(steps, table.sigmaMin, table.sigmaMax);
      break;
    default:
      sigmas = table.getSigmas(steps);
  }
  const toT = (s: number) => noise.sigmaToT(s);
  switch (kind) {
    case 'euler':
      return new EulerSampler(sigmas, resolved, prediction, toT);
    case 'euler_a':
      return new EulerAncestralSampler(sigmas, resolved, prediction, toT, options.eta ?? 1, options.sNoise ?? 1);
    case 'dpmpp_2m':
      return new DpmPp2MSampler(sigmas, resolved, prediction, toT);
    case 'lcm': {
      const lcm = noise.lcmSigmas();
      return new LcmSampler(sigmas, resolved, prediction, (s) => lcm.timestepOf(s));
    }
  }
}
