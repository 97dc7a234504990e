/**
 * A1111's UniPC (`modules/models/diffusion/uni_pc/uni_pc.py`, Zhao et al. 2023) as
 * `sd_samplers_timesteps_impl.unipc` runs it with A1111's defaults: data prediction
 * (predict_x0), variant bh1, multistep, order 3, time-uniform steps from t = 1 to 1/N, lower
 * order on the final steps, no thresholding. The model is the eps model on the discrete VP
 * schedule (`NoiseScheduleVP('discrete')`), called at the fractional timestep (t − 1/N)·1000.
 *
 * One difference: A1111 stops with an assertion ("UniPC order must be < sampling steps") when the
 * DDIM timestep count is below the order; here the order is lowered to that count instead.
 */
import type { Prediction } from './denoiser';
import { linspace } from './linspace';
import { a1111DdimTimesteps, EpsModel, TimestepSchedule, timestepEpsModel } from './timesteps';
import type { SampleContext, Sampler } from './types';

/** `NoiseScheduleVP('discrete', alphas_cumprod)`: log α_t piecewise linear in t over t_n = (n+1)/N. */
export class DiscreteVpSchedule {
  readonly totalN: number;
  private readonly logAlpha: Float64Array;

  constructor(alphasCumprod: Float64Array) {
    this.totalN = alphasCumprod.length;
    this.logAlpha = new Float64Array(this.totalN);
    for (let i = 0; i < this.totalN; i++) this.logAlpha[i] = 0.5 * Math.log(alphasCumprod[i]);
  }

  /** `interpolate_fn` over (t_array, log_alpha_array), extended linearly past both ends. */
  marginalLogMeanCoeff(t: number): number {
    const N = this.totalN;
    // t_array[k] = (k + 1) / N (torch.linspace(0, 1, N + 1)[1:]).
    let k = Math.floor(t * N) - 1;
    k = Math.min(Math.max(k, 0), N - 2);
    const x0 = (k + 1) / N;
    const x1 = (k + 2) / N;
    return this.logAlpha[k] + ((t - x0) * (this.logAlpha[k + 1] - this.logAlpha[k])) / (x1 - x0);
  }

  marginalAlpha(t: number): number {
    return Math.exp(this.marginalLogMeanCoeff(t));
  }

  marginalStd(t: number): number {
    return Math.sqrt(1 - Math.exp(2 * this.marginalLogMeanCoeff(t)));
  }

  marginalLambda(t: number): number {
    const lmc = this.marginalLogMeanCoeff(t);
    return lmc - 0.5 * Math.log(1 - Math.exp(2 * lmc));
  }
}

/**
 * Solves the small dense system A·x = b (Gaussian elimination with partial pivoting), as
 * torch.linalg.solve, over the leading n×n block of A (n = b's length; none when n is 0).
 */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const m = A.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

const DEFAULT_ORDER = 3;

export class UniPcSampler implements Sampler {
  readonly schedule = 'ddim_timesteps';
  readonly steps: number;
  readonly sigmas: Float64Array;
  readonly initNoiseSigma = 1;
  /** The continuous times t from 1 to 1/N (steps + 1 of them). */
  readonly times: Float64Array;
  private readonly order: number;
  private readonly ns: DiscreteVpSchedule;

  constructor(
    readonly label: string,
    private readonly noise: TimestepSchedule,
    requestedSteps: number,
    private readonly prediction: Prediction,
  ) {
    // A1111 passes steps=len(timesteps) of its DDIM timesteps.
    const steps = a1111DdimTimesteps(requestedSteps, noise.numTrainTimesteps, noise.stepsOffset).length;
    this.ns = new DiscreteVpSchedule(noise.alphasCumprod);
    this.order = Math.min(DEFAULT_ORDER, steps);
    this.times = linspace(1, 1 / this.ns.totalN, steps + 1);
    this.steps = steps;
    this.sigmas = new Float64Array(steps + 1);
    for (let i = 0; i <= steps; i++) {
      const a = this.ns.marginalAlpha(this.times[i]);
      this.sigmas[i] = Math.sqrt(1 - a * a) / a;
    }
  }

  async sample(x: Float32Array, context: SampleContext): Promise<Float32Array> {
    const ns = this.ns;
    const eps = timestepEpsModel(this.noise.alphasCumprod, this.prediction, context);
    const steps = this.steps;
    const order = this.order;
    const T = this.times;
    let index = 0;
    const afterUpdate = (xNow: Float32Array, modelX: Float32Array | undefined) => {
      context.onStep?.({ i: index++, x: xNow, denoised: modelX ?? xNow });
    };
    const modelFn = (xIn: Float32Array, t: number) => dataPrediction(eps, ns, xIn, t);

    const modelPrev: Float32Array[] = [await modelFn(x, T[0])];
    const tPrev: number[] = [T[0]];
    for (let initOrder = 1; initOrder < order; initOrder++) {
      const t = T[initOrder];
      const r = await this.update(x, modelPrev, tPrev, t, initOrder, true, modelFn);
      x = r.x;
      const modelX = r.modelT ?? (await modelFn(x, t));
      afterUpdate(x, modelX);
      modelPrev.push(modelX);
      tPrev.push(t);
    }
    for (let step = order; step <= steps; step++) {
      const t = T[step];
      const stepOrder = Math.min(order, steps + 1 - step);
      const useCorrector = step !== steps;
      const r = await this.update(x, modelPrev, tPrev, t, stepOrder, useCorrector, modelFn);
      x = r.x;
      let modelX = r.modelT;
      afterUpdate(x, modelX);
      for (let i = 0; i < order - 1; i++) {
        tPrev[i] = tPrev[i + 1];
        modelPrev[i] = modelPrev[i + 1];
      }
      tPrev[order - 1] = t;
      if (step < steps) {
        modelX ??= await modelFn(x, t);
        modelPrev[order - 1] = modelX;
      }
    }
    return x;
  }

  /** `multistep_uni_pc_bh_update` with predict_x0 and variant bh1 (B(h) = −h). */
  private async update(
    x: Float32Array,
    modelPrevList: Float32Array[],
    tPrevList: number[],
    t: number,
    order: number,
    useCorrector: boolean,
    modelFn: (x: Float32Array, t: number) => Promise<Float32Array>,
  ): Promise<{ x: Float32Array; modelT?: Float32Array }> {
    const ns = this.ns;
    const tPrev0 = tPrevList[tPrevList.length - 1];
    const lambdaPrev0 = ns.marginalLambda(tPrev0);
    const lambdaT = ns.marginalLambda(t);
    const modelPrev0 = modelPrevList[modelPrevList.length - 1];
    const sigmaPrev0 = ns.marginalStd(tPrev0);
    const sigmaT = ns.marginalStd(t);
    const alphaT = Math.exp(ns.marginalLogMeanCoeff(t));
    const h = lambdaT - lambdaPrev0;

    const rks: number[] = [];
    const D1s: Float32Array[] = [];
    for (let i = 1; i < order; i++) {
      const tPrevI = tPrevList[tPrevList.length - 1 - i];
      const modelPrevI = modelPrevList[modelPrevList.length - 1 - i];
      const rk = (ns.marginalLambda(tPrevI) - lambdaPrev0) / h;
      rks.push(rk);
      const d = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) d[k] = (modelPrevI[k] - modelPrev0[k]) / rk;
      D1s.push(d);
    }
    rks.push(1);

    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const Bh = hh;
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * factorial) / Bh);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }

    // rhos_p = solve(R[:-1, :-1], b[:-1]) (solve reads the leading block); none at order 1.
    const rhosP = order === 2 ? [0.5] : solve(R, b.slice(0, -1));

    const cX = sigmaT / sigmaPrev0;
    const cM = alphaT * hPhi1;
    const xT_ = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) xT_[k] = cX * x[k] - cM * modelPrev0[k];

    const xT = Float32Array.from(xT_);
    for (let j = 0; j < D1s.length; j++) {
      const c = alphaT * Bh * rhosP[j];
      const d = D1s[j];
      for (let k = 0; k < x.length; k++) xT[k] -= c * d[k];
    }
    if (!useCorrector) return { x: xT };

    const rhosC = order === 1 ? [0.5] : solve(R, b);

    const modelT = await modelFn(xT, t);
    const out = Float32Array.from(xT_);
    for (let j = 0; j < D1s.length; j++) {
      const c = alphaT * Bh * rhosC[j];
      const d = D1s[j];
      for (let k = 0; k < x.length; k++) out[k] -= c * d[k];
    }
    const cLast = alphaT * Bh * rhosC[rhosC.length - 1];
    for (let k = 0; k < x.length; k++) out[k] -= cLast * (modelT[k] - modelPrev0[k]);
    return { x: out, modelT };
  }
}

/** `data_prediction_fn`: x0 = (x − σ_t·eps(x, (t − 1/N)·1000)) / α_t. */
async function dataPrediction(eps: EpsModel, ns: DiscreteVpSchedule, x: Float32Array, t: number): Promise<Float32Array> {
  const e = (await eps(x, (t - 1 / ns.totalN) * 1000)).eps;
  const alpha = ns.marginalAlpha(t);
  const sigma = ns.marginalStd(t);
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = (x[k] - sigma * e[k]) / alpha;
  return out;
}
