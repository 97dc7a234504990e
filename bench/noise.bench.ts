/**
 * Noise speed (never part of the test run): `node out/bench/noise.bench.js`.
 * The initial noise of a 1024x1024 batch of 4 (4 latents of 4x128x128, 262,144 values) as a render
 * and `sd-prompt noise` make it, per RNG source, with a variation seed and with a seed resize, and
 * one ancestral draw; the JSON text `sd-prompt noise --json` writes for it; and, in the same run,
 * the xoshiro128** generator the render used before (kept here only as the baseline).
 * Target: under 50 ms for the batch's noise. Prints the median and the fastest of the runs.
 */
import { noiseJson, noiseReport } from '../server/src/cli/noise';
import { RngSource } from '../server/src/render/pipeline/rng/noiseGenerator';
import { renderImageRng } from '../server/src/render/pipeline/rng/renderNoise';

const RUNS = 15;

function time(label: string, run: () => void): void {
  for (let i = 0; i < 3; i++) run(); // warm-up: let the JIT optimize the hot loops before timing
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label.padEnd(58)} median ${ms[RUNS >> 1].toFixed(1).padStart(6)} ms   fastest ${ms[0].toFixed(1).padStart(6)} ms`);
}

/** The generator pipeline/random.ts had before A1111's (xoshiro128** seeded by splitmix32, Box–Muller). */
function xoshiroNormal(seed: number): (out: Float32Array) => void {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
  return (out: Float32Array) => {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = Math.max(next(), 1e-12);
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  };
}

const size = { seed: 1234, width: 1024, height: 1024 };
const noise = (source: RngSource, extra = {}) => ({ source, subseed: 77, subseedStrength: 0, etaNoiseSeedDelta: 0, ...extra });

console.log(`noise for a 1024x1024 batch of 4 (4 x 4x128x128), ${RUNS} runs each`);
time('baseline: old xoshiro128** noise (4 latents)', () => {
  for (let i = 0; i < 4; i++) xoshiroNormal(size.seed + i)(new Float32Array(4 * 128 * 128));
});
for (const source of ['GPU', 'CPU', 'NV'] as const) {
  time(`${source}: initial noise`, () => renderImageRng({ ...size, noise: noise(source) }, 4).next());
}
time('GPU: initial noise + variation seed (strength 0.3)', () => renderImageRng({ ...size, noise: noise('GPU', { subseedStrength: 0.3 }) }, 4).next());
time('CPU: initial noise + variation seed (strength 0.3)', () => renderImageRng({ ...size, noise: noise('CPU', { subseedStrength: 0.3 }) }, 4).next());
time('GPU: initial noise, seed resize from 768x768', () => renderImageRng({ ...size, noise: noise('GPU', { seedResizeFrom: { width: 768, height: 768 } }) }, 4).next());
const gpu = renderImageRng({ ...size, noise: noise('GPU') }, 4);
gpu.next();
time('GPU: one ancestral draw (next())', () => gpu.next());
const cpu = renderImageRng({ ...size, noise: noise('CPU') }, 4);
cpu.next();
time('CPU: one ancestral draw (next())', () => cpu.next());
const file = 'a cat\nSteps: 20, Seed: 1234, Size: 1024x1024, Batch size: 4';
time('sd-prompt noise: report (parse + GPU noise)', () => noiseReport(file, 0));
const report = noiseReport(file, 0);
time('sd-prompt noise --json: JSON text of that report', () => noiseJson(report));
