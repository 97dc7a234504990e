/**
 * A1111's "Schedule type" values (`modules/sd_schedulers.py`) and the k-diffusion schedules they
 * call (`k_diffusion/sampling.py`): each turns a step count into the sigmas a k-diffusion sampler
 * walks. Most end in 0; KL Optimal ends at sigma_min, as A1111's does.
 */
import { linspace } from './linspace';

/** What a schedule needs from the model's discrete sigma table (k-diffusion `DiscreteSchedule`). */
export interface SigmaTable {
  /** Ascending, index = training timestep. */
  readonly sigmas: Float64Array;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  sigmaToT(sigma: number): number;
  tToSigma(t: number): number;
  getSigmas(n: number): Float64Array;
}

export const SCHEDULE_NAMES = [
  'uniform',
  'karras',
  'exponential',
  'polyexponential',
  'sgm_uniform',
  'kl_optimal',
  'align_your_steps',
  'simple',
  'normal',
  'ddim',
  'beta',
] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleOptions {
  /** A1111 "Schedule min sigma" / "Schedule max sigma" (opts.sigma_min/max; default: the model's). */
  sigmaMin?: number;
  sigmaMax?: number;
  /** A1111 "Schedule rho" (opts.rho; default 7 for Karras, 1 for Polyexponential). */
  rho?: number;
  /** Align Your Steps: SDXL's table instead of SD 1.5's. */
  sdxl?: boolean;
  /** Beta: A1111 "Beta schedule alpha" / "beta" (opts.beta_dist_alpha/beta, default 0.6 each). */
  betaAlpha?: number;
  betaBeta?: number;
}

/** numpy's `linspace(0, 1, n)`: i·step, the last entry set to 1 (every caller ramps over [0, 1]). */
function npUnitLinspace(n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) return out;
  const step = 1 / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step;
  out[n - 1] = 1;
  return out;
}

function withZero(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length + 1);
  out.set(values as ArrayLike<number>);
  return out;
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

/** k-diffusion `get_sigmas_exponential`: even steps in log sigma, then 0. */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  const l = linspace(Math.log(sigmaMax), Math.log(sigmaMin), n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.exp(l[i]);
  return out;
}

/** k-diffusion `get_sigmas_polyexponential`: a polynomial ramp (power rho) in log sigma, then 0. */
export function polyexponentialSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 1): Float64Array {
  const ramp = linspace(1, 0, n);
  const lMin = Math.log(sigmaMin);
  const span = Math.log(sigmaMax) - lMin;
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.exp(ramp[i] ** rho * span + lMin);
  return out;
}

/** A1111 `sgm_uniform`: n timesteps evenly from t(sigma_max) towards t(sigma_min), the endpoint left out; then 0. */
export function sgmUniformSigmas(n: number, table: SigmaTable, sigmaMin: number, sigmaMax: number): Float64Array {
  const t = linspace(table.sigmaToT(sigmaMax), table.sigmaToT(sigmaMin), n + 1);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = table.tToSigma(t[i]);
  return out;
}

/** A1111 `normal_scheduler`: n timesteps evenly from t(sigma_max) to t(sigma_min), both included; then 0. */
export function normalSigmas(n: number, table: SigmaTable, sigmaMin: number, sigmaMax: number): Float64Array {
  const t = linspace(table.sigmaToT(sigmaMax), table.sigmaToT(sigmaMin), n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = table.tToSigma(t[i]);
  return out;
}

/** A1111 `kl_optimal` (Sabour et al. 2024): tan of an even ramp in arctan sigma; n + 1 entries ending at sigma_min. */
export function klOptimalSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  const aMin = Math.atan(sigmaMin);
  const aMax = Math.atan(sigmaMax);
  const out = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) out[i] = Math.tan((i / n) * aMin + (1 - i / n) * aMax);
  return out;
}

/** NVIDIA's Align Your Steps tables for 10 steps, as A1111 ships them. */
export const AYS_SD15 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029] as const;
export const AYS_SDXL = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.38, 0.234, 0.113, 0.029] as const;

/** A1111 `get_align_your_steps_sigmas`: the table, log-linearly interpolated to n points unless n is 11; then 0. */
export function alignYourStepsSigmas(n: number, sdxl: boolean): Float64Array {
  const table = sdxl ? AYS_SDXL : AYS_SD15;
  if (n === table.length) return withZero(table);
  // loglinear_interp: np.interp over the reversed (ascending) logs, reversed back.
  const xs = npUnitLinspace(table.length);
  const ys = table.map((_, k) => Math.log(table[table.length - 1 - k]));
  const newXs = npUnitLinspace(n);
  const interped = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = newXs[i];
    let j = 0;
    // x never passes xs's last entry (both linspaces end on exactly 1), so j stops at the last segment.
    while (x > xs[j + 1]) j++;
    const y = x >= xs[xs.length - 1] ? ys[ys.length - 1] : ys[j] + ((x - xs[j]) * (ys[j + 1] - ys[j])) / (xs[j + 1] - xs[j]);
    interped[n - 1 - i] = Math.exp(y);
  }
  return withZero(interped);
}

/** A1111 `simple_scheduler`: every (T/n)-th entry of the table from the top; then 0. */
export function simpleSigmas(n: number, table: SigmaTable): Float64Array {
  const all = table.sigmas;
  const ss = all.length / n;
  const out = new Float64Array(n + 1);
  for (let x = 0; x < n; x++) out[x] = all[all.length - 1 - Math.floor(x * ss)];
  return out;
}

/**
 * A1111 `ddim_scheduler`: table entries 1, 1 + s, 1 + 2s, ... (s = max(T // n, 1)), reversed; then 0.
 * Its length is not always n + 1 (30 steps give 31 sigmas), as in A1111.
 */
export function ddimSigmas(n: number, table: SigmaTable): Float64Array {
  const all = table.sigmas;
  const ss = Math.max(Math.floor(all.length / n), 1);
  const picked: number[] = [];
  for (let x = 1; x < all.length; x += ss) picked.push(all[x]);
  picked.reverse();
  return withZero(picked);
}

// --- Beta: scipy.stats.beta.ppf --------------------------------------------------------------

/** ln Γ(x), Lanczos (g = 7, 9 terms): ~1e-15 relative for x > 0. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/**
 * scipy `stats.beta.ppf(q, a, b)`: the inverse of I_x(a, b), by bisection to the last bit. No
 * iteration cap: a small alpha puts the answer far below 2^-200 (ppf(0.01, 0.01, 0.6) ≈ 2.6e-200),
 * and halving [0, 1] always reaches two adjacent doubles (about 1075 halvings at most).
 */
export function betaPpf(q: number, a: number, b: number): number {
  if (q <= 0) return 0;
  if (q >= 1) return 1;
  let lo = 0;
  let hi = 1;
  for (;;) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (regularizedIncompleteBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A1111 `beta_scheduler` (Lee et al. 2024): sigma_min + ppf(1 − i/(n−1))·(sigma_max − sigma_min); then 0. */
export function betaSigmas(n: number, sigmaMin: number, sigmaMax: number, alpha = 0.6, beta = 0.6): Float64Array {
  const ramp = npUnitLinspace(n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = sigmaMin + betaPpf(1 - ramp[i], alpha, beta) * (sigmaMax - sigmaMin);
  return out;
}

/** The sigmas of an A1111 schedule type for n steps over a model's table. */
export function scheduleSigmas(name: ScheduleName, n: number, table: SigmaTable, options: ScheduleOptions = {}): Float64Array {
  const sigmaMin = options.sigmaMin || table.sigmaMin;
  const sigmaMax = options.sigmaMax || table.sigmaMax;
  switch (name) {
    case 'uniform':
      return table.getSigmas(n);
    case 'karras':
      return karrasSigmas(n, sigmaMin, sigmaMax, options.rho || 7);
    case 'exponential':
      return exponentialSigmas(n, sigmaMin, sigmaMax);
    case 'polyexponential':
      return polyexponentialSigmas(n, sigmaMin, sigmaMax, options.rho || 1);
    case 'sgm_uniform':
      return sgmUniformSigmas(n, table, sigmaMin, sigmaMax);
    case 'kl_optimal':
      return klOptimalSigmas(n, sigmaMin, sigmaMax);
    case 'align_your_steps':
      return alignYourStepsSigmas(n, options.sdxl ?? false);
    case 'simple':
      return simpleSigmas(n, table);
    case 'normal':
      return normalSigmas(n, table, sigmaMin, sigmaMax);
    case 'ddim':
      return ddimSigmas(n, table);
    case 'beta':
      return betaSigmas(n, sigmaMin, sigmaMax, options.betaAlpha ?? 0.6, options.betaBeta ?? 0.6);
  }
}
