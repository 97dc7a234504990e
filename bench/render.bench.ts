/**
 * The render engine on the SD1.5-sized random model (`node out/bench/render.bench.js`):
 * model load, time to first step, per-step time, the ratio of the pipeline's per-step time to
 * the raw `session.run` time inside the same step (target ≤ 1.05), and peak RSS against the
 * model's weight bytes (target ≤ 1.3×). Printed, never asserted.
 *   RENDER_BENCH_DEVICE  cpu | webgpu | cuda | auto   (default cpu)
 *   RENDER_BENCH_STEPS   sampling steps               (default 3)
 *   RENDER_BENCH_SIZE    image side in pixels         (default 512)
 *   RENDER_BENCH_MODEL   a model folder to use (generated there and kept when missing); else
 *                        SD15_SIZED is generated into a temp folder and removed
 *   RENDER_BENCH_TINY=1  use the tiny preset (a quick check of the bench itself)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DeviceSetting } from '../server/src/render/onnx/devices';
import { openModelFolder } from '../server/src/render/model/modelFolder';
import { loadSessions } from '../server/src/render/model/sessions';
import { renderTxt2Img } from '../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, SD15_SIZED, TINY_SD15 } from '../server/src/render/testModel/generateModel';

const FIXTURE_CLIP = path.resolve(__dirname, '../../test/fixtures/clip');

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : fs.statSync(p).size;
  }
  return total;
}

async function main() {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const device = (process.env.RENDER_BENCH_DEVICE ?? 'cpu') as DeviceSetting;
  const steps = Number(process.env.RENDER_BENCH_STEPS ?? 3);
  const size = Number(process.env.RENDER_BENCH_SIZE ?? 512);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  let model = process.env.RENDER_BENCH_MODEL;
  let generated: string | undefined;
  try {
    if (!model || !fs.existsSync(model)) {
      if (model) fs.mkdirSync(model, { recursive: true });
      else generated = model = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-bench-model-'));
      const t = Date.now();
      const preset = process.env.RENDER_BENCH_TINY ? TINY_SD15 : SD15_SIZED;
      generateTinyPipeline(model, { ...preset, tokenizerFrom: fs.existsSync(FIXTURE_CLIP) ? FIXTURE_CLIP : process.env.RENDER_BENCH_TOKENIZER });
      console.log(`generated ${process.env.RENDER_BENCH_TINY ? 'TINY_SD15' : 'SD15_SIZED'} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    const weights = folderBytes(model);
    const baseline = process.memoryUsage().rss;
    const folder = openModelFolder(model);
    const t0 = Date.now();
    const sessions = await loadSessions(folder, device, ort);
    const loadMs = Date.now() - t0;
    // Time spent inside session.run, per step, to compare with the step's wall time.
    let inRun = 0;
    for (const io of [sessions.textEncoder, sessions.unet, sessions.vaeDecoder]) {
      const run = io.session.run.bind(io.session);
      (io.session as { run: unknown }).run = async (...args: Parameters<typeof run>) => {
        const s = process.hrtime.bigint();
        try {
          return await run(...args);
        } finally {
          inRun += Number(process.hrtime.bigint() - s) / 1e6;
        }
      };
    }
    // Wall time and session.run time of each step, from one progress event to the next.
    const stepWall: number[] = [];
    const stepRun: number[] = [];
    let lastAt = 0;
    let lastRun = 0;
    const started = process.hrtime.bigint();
    const result = await renderTxt2Img(
      ort,
      folder,
      sessions,
      { prompt: 'a photo of a cat, (masterpiece:1.2)', negativePrompt: 'lowres', steps, sampler: 'Euler a', cfgScale: 7, seed: 1, width: size, height: size, modelName: 'bench' },
      {
        onProgress: (p) => {
          const now = Number(process.hrtime.bigint() - started) / 1e6;
          if (p.step === 1) console.log(`time to first step (encode + step 1): ${now.toFixed(0)} ms`);
          else {
            stepWall.push(now - lastAt);
            stepRun.push(inRun - lastRun);
          }
          lastAt = now;
          lastRun = inRun;
        },
      },
    );
    const real = stepWall;
    const runs = stepRun;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
    console.log(`device ${sessions.device}${sessions.attempts.length ? ` (after ${sessions.attempts.map((a) => `${a.device}: ${a.error}`).join('; ')})` : ''}`);
    console.log(`load ${loadMs} ms; encode ${result.timings.encode} ms; denoise ${result.timings.denoise} ms; decode ${result.timings.decode} ms`);
    if (real.length) {
      console.log(
        `per step (steps 2..${steps}): ${mean(real).toFixed(1)} ms; raw session.run in those steps ${mean(runs).toFixed(1)} ms; ratio ${(mean(real) / mean(runs)).toFixed(3)} (target ≤ 1.05)`,
      );
    }
    console.log(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (${((peak - baseline) / 2 ** 20).toFixed(0)} MiB above start); model files ${(weights / 2 ** 20).toFixed(0)} MiB; ratio ${(peak / weights).toFixed(2)} (target ≤ 1.3)`);
    await sessions.release();
  } finally {
    clearInterval(sampler);
    if (generated) fs.rmSync(generated, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`render bench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
