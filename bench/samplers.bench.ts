/**
 * What each sampler itself costs per step (never part of the test run): `node out/bench/samplers.bench.js`.
 * Every A1111 sampler runs 20 steps (its default schedule) at the SD1.5 512×512 latent size (4×64×64)
 * over a "UNet" that costs nothing (it returns a fixed eps), so the time is the sampler's own
 * arithmetic, its noise (the per-image generator's draws are stood in for by a fill) and, for the
 * SDE samplers, the Brownian noise. Printed per step beside Euler in the same run (the baseline: the
 * loop the render had before), and as a share of a step of the SD1.5-sized bench model
 * (docs/rendering.md: 0.77 s on the H100's WebGPU EP, 10.9 s on this 2-core CPU), which is what
 * "samplers add under 2 % to a step" is about.
 *   SAMPLER_BENCH_SIZE   image side in pixels (default 512)
 *   SAMPLER_BENCH_STEP_MS the step time to compare with (default 770)
 */
import { createSampler, NoiseSchedule, SamplerKind } from '../server/src/render/pipeline/schedulers';
import { SAMPLER_DEFINITIONS } from '../server/src/render/pipeline/samplers/registry';

const STEPS = 20;
const RUNS = 5;

async function main() {
  const size = Number(process.env.SAMPLER_BENCH_SIZE ?? 512);
  const stepMs = Number(process.env.SAMPLER_BENCH_STEP_MS ?? 770);
  const n = 4 * (size / 8) * (size / 8);
  const noise = NoiseSchedule.fromConfig({});
  const eps = new Float32Array(n);
  for (let k = 0; k < n; k++) eps[k] = Math.sin(k) * 0.5;
  const fill = (out: Float32Array) => {
    for (let k = 0; k < out.length; k++) out[k] = Math.cos(k * 0.37);
  };
  const timeOne = async (kind: SamplerKind): Promise<{ perStep: number; calls: number; steps: number }> => {
    const ms: number[] = [];
    let calls = 0;
    let steps = 0;
    for (let r = 0; r < RUNS + 1; r++) {
      const s = createSampler(kind, STEPS, 'automatic', noise);
      const x = new Float32Array(n).fill(s.initNoiseSigma * 0.5);
      calls = 0;
      const t0 = process.hrtime.bigint();
      await s.sample(x, {
        unet: async () => {
          calls++;
          return { guided: eps, uncond: eps };
        },
        randn: fill,
        seed: 1,
      });
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      steps = s.steps;
      if (r > 0) ms.push(elapsed); // the first run warms the JIT up
    }
    ms.sort((a, b) => a - b);
    return { perStep: ms[RUNS >> 1] / steps, calls, steps };
  };

  console.log(`${STEPS} steps at ${size}x${size} (${n} latent values); a step is taken as ${stepMs} ms`);
  const euler = await timeOne('euler');
  for (const def of SAMPLER_DEFINITIONS) {
    const r = def.kind === 'euler' ? euler : await timeOne(def.kind);
    console.log(
      `${def.label.padEnd(18)} ${r.perStep.toFixed(2).padStart(7)} ms/step  (Euler ${euler.perStep.toFixed(2)})  ` +
        `${String(r.calls).padStart(3)} model calls / ${String(r.steps).padStart(2)} steps   ` +
        `${((100 * r.perStep) / stepMs).toFixed(2).padStart(5)} % of a step`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
