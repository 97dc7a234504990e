/**
 * Per-step UNet time of the plain graph against each fused form (`node out/bench/fusedGraphs.bench.js`), in one
 * run so the ratios compare like with like: com.microsoft MultiHeadAttention, SkipLayerNormalization and Gelu
 * each alone, then all of them; on WebGPU also fp16. The UNet has SD1.5's structure (4 levels, 2 resnets each,
 * 8 heads, 768-wide context, 77 tokens) at a reduced width so it builds and runs on a small machine; random
 * weights, embedded in the graph. Runs are interleaved (one step of each form in turn) so a busy moment on the
 * machine lands on every form. Printed, never asserted.
 *   FUSED_BENCH_CHANNELS  the UNet's base width (default 160; SD1.5 is 320)
 *   FUSED_BENCH_LATENT    latent side (default 32, a 256×256 image)
 *   FUSED_BENCH_STEPS     timed steps per form (default 5, after one warm-up)
 *   FUSED_BENCH_EPS       comma-separated EPs (default cpu; webgpu where a GPU or lavapipe is present)
 */
import * as ort from 'onnxruntime-node';
import { toFloat16 } from '../server/src/render/onnx/half';
import { describeForm, fusedFormsOf, GraphForm } from '../server/src/render/sdGraphs/graphOptions';
import { FusedForms } from '../server/src/render/sdGraphs/net';
import { buildUnet } from '../server/src/render/sdGraphs/unet';
import { architectureOf, SD15_SIZED } from '../server/src/render/testModel/generateModel';

const channels = Number(process.env.FUSED_BENCH_CHANNELS ?? 160);
const latent = Number(process.env.FUSED_BENCH_LATENT ?? 32);
const steps = Number(process.env.FUSED_BENCH_STEPS ?? 5);
const eps = (process.env.FUSED_BENCH_EPS ?? 'cpu').split(',') as ('cpu' | 'webgpu')[];

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function formsFor(ep: string): GraphForm[] {
  const fp32 = (fused: boolean | FusedForms): GraphForm => ({ dtype: 'float32', fused: fusedFormsOf(fused) });
  const forms = [fp32(false), fp32({ attention: true }), fp32({ skipLayerNorm: true }), fp32({ gelu: true }), fp32(true)];
  if (ep !== 'cpu') forms.push({ dtype: 'float16', fused: fusedFormsOf(false) }, { dtype: 'float16', fused: fusedFormsOf(true) });
  return forms;
}

async function main(): Promise<void> {
  const arch = architectureOf({ ...SD15_SIZED, channels }).unet;
  const contextDim = arch.contextDim;
  console.log(`UNet: SD1.5 structure at base width ${channels}, latent ${latent}×${latent}, ${steps} steps per form, batch 2 (CFG)`);
  for (const ep of eps) {
    const forms = formsFor(ep);
    const sessions: ort.InferenceSession[] = [];
    for (const form of forms) {
      const t = performance.now();
      const bytes = buildUnet(arch, { dtype: form.dtype, fused: form.fused, weights: { kind: 'random', seed: 1 }, timestepType: 'float' }).model.serialize().model;
      sessions.push(await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 3, graphOptimizationLevel: 'all' }));
      console.log(`  ${ep} ${describeForm(form)}: built and loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const feedsOf = (form: GraphForm): Record<string, ort.Tensor> => {
      const t = (data: Float32Array, dims: number[]) => (form.dtype === 'float16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims));
      return {
        sample: t(seeded(2 * 4 * latent * latent, 1), [2, 4, latent, latent]),
        timestep: t(Float32Array.of(500), [1]),
        encoder_hidden_states: t(seeded(2 * 77 * contextDim, 2), [2, 77, contextDim]),
      };
    };
    const total = forms.map(() => 0);
    for (let i = 0; i < forms.length; i++) await sessions[i].run(feedsOf(forms[i]));
    for (let s = 0; s < steps; s++) {
      for (let i = 0; i < forms.length; i++) {
        const feeds = feedsOf(forms[i]);
        const t = performance.now();
        await sessions[i].run(feeds);
        total[i] += performance.now() - t;
      }
    }
    const base = total[0] / steps;
    console.log(`${ep}:`);
    forms.forEach((form, i) => {
      const per = total[i] / steps;
      console.log(`  ${describeForm(form).padEnd(58)} ${per.toFixed(0).padStart(7)} ms/step  ${(per / base).toFixed(2)}× plain`);
    });
    for (const s of sessions) await s.release();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
