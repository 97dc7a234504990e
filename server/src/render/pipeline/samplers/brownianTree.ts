/**
 * The noise of the SDE samplers (DPM++ SDE, DPM++ 2M SDE, 2M SDE Heun, 3M SDE): increments of one
 * Brownian motion W over sigma, so that the noise of a step depends on the interval it covers and
 * not on how the interval is cut into steps (k-diffusion's `BrownianTreeNoiseSampler`, which A1111
 * seeds with the image seed). `noise(σ, σ')` = (W(σ') − W(σ)) / sqrt(|σ' − σ|) is N(0, 1).
 *
 * Not bit-identical to A1111: k-diffusion draws W from torchsde's `BrownianInterval` (a binary
 * tree of Brownian-bridge splits, its node seeds spawned by numpy's SeedSequence, each node's
 * normals from torch's generator on the render device). This is the same process with our own
 * construction: W(σ_min) = 0 and W(σ_max) ~ N(0, σ_max − σ_min) first, then every new point
 * queried is placed by the exact Brownian bridge between its realized neighbours, its normals
 * seeded by the image seed and the point. The increments have exactly Brownian statistics and the
 * same seed gives the same image; the picture is not A1111's for these four samplers.
 */
import type { RandnFill } from './types';

/** A seeded N(0,1) fill: xoshiro128** seeded by splitmix32 over the key words, Box–Muller. */
function keyedNormal(words: number[]): RandnFill {
  let s = 0x9e3779b9;
  const mix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  for (const w of words) {
    s = (s ^ Math.imul(w >>> 0, 0x27d4eb2d)) >>> 0;
    s = mix();
  }
  let a = mix() | 1;
  let b = mix();
  let c = mix();
  let d = mix();
  const next = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return (out) => {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = (next() + 1) / 4294967297; // (0, 1): the log never sees 0
      const u2 = next() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The two 32-bit halves of a float64, so that the same sigma always keys the same normals. */
function floatWords(v: number): [number, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  return [view.getUint32(0), view.getUint32(4)];
}

export class BrownianNoise {
  /** Realized points, ascending in t, with W at each. */
  private readonly times: number[] = [];
  private readonly values: Float32Array[] = [];
  private readonly t0: number;
  private readonly t1: number;

  constructor(
    private readonly size: number,
    sigmaMin: number,
    sigmaMax: number,
    private readonly seed: number,
  ) {
    if (!(sigmaMin < sigmaMax)) throw new RangeError(`a Brownian tree needs sigma_min < sigma_max, got ${sigmaMin} and ${sigmaMax}`);
    this.t0 = sigmaMin;
    this.t1 = sigmaMax;
    const top = new Float32Array(size);
    this.normal(sigmaMax)(top);
    const scale = Math.sqrt(sigmaMax - sigmaMin);
    for (let k = 0; k < size; k++) top[k] *= scale;
    this.times.push(sigmaMin, sigmaMax);
    this.values.push(new Float32Array(size), top);
  }

  /** `BrownianTreeNoiseSampler(sigma, sigma_next)`: the normalized increment, N(0,1) per element. */
  noise(sigma: number, sigmaNext: number): Float32Array {
    const a = this.at(sigma);
    const b = this.at(sigmaNext);
    const out = new Float32Array(this.size);
    const inv = 1 / Math.sqrt(Math.abs(sigmaNext - sigma));
    for (let k = 0; k < out.length; k++) out[k] = (b[k] - a[k]) * inv;
    this.forgetAbove(Math.max(sigma, sigmaNext));
    return out;
  }

  private normal(t: number): RandnFill {
    return keyedNormal([this.seed >>> 0, Math.floor(this.seed / 4294967296) >>> 0, ...floatWords(t)]);
  }

  /** W(t), realizing it by the Brownian bridge between its neighbours when it is new. */
  private at(t: number): Float32Array {
    t = Math.min(Math.max(t, this.t0), this.t1);
    const T = this.times;
    let hi = 0;
    while (hi < T.length && T[hi] < t) hi++;
    if (T[hi] === t) return this.values[hi];
    const lo = hi - 1;
    const ta = T[lo];
    const tb = T[hi];
    const wa = this.values[lo];
    const wb = this.values[hi];
    const w = (t - ta) / (tb - ta);
    const sd = Math.sqrt(((t - ta) * (tb - t)) / (tb - ta));
    const v = new Float32Array(this.size);
    this.normal(t)(v);
    for (let k = 0; k < v.length; k++) v[k] = wa[k] + w * (wb[k] - wa[k]) + sd * v[k];
    T.splice(hi, 0, t);
    this.values.splice(hi, 0, v);
    return v;
  }

  /**
   * The samplers query downwards in sigma: points above the latest query (but its nearest upper
   * neighbour) are never a neighbour again, so their memory is given back.
   */
  private forgetAbove(t: number): void {
    const T = this.times;
    let hi = 0;
    while (hi < T.length && T[hi] <= t) hi++;
    // Keep T[hi] (the upper neighbour) and the top point, which anchors the interval.
    const from = hi + 1;
    const to = T.length - 1;
    if (to > from) {
      T.splice(from, to - from);
      this.values.splice(from, to - from);
    }
  }
}
