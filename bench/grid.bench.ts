/**
 * What an X/Y/Z plot over a LoRA's weight costs beside the renders themselves (`node out/bench/grid.bench.js`):
 * a 5-cell grid, `Prompt S/R: 0.8, 0.2, 0.5, 1, 0.6` over `<lora:bench_lora:0.8>`, planned by the planner and
 * run by the grid runner through one RenderHost, as `sd-prompt grid` and the panel run it. Each cell after the
 * first changes only the LoRA's weight, so its sessions are re-merged, not reloaded; the bench prints each
 * cell's wall time, its load (re-merge) time, and that time against a single render's denoise time measured in
 * the same run (issue 17's target: under 10%). Printed, never asserted.
 *   GRID_BENCH_MODEL      a model folder with a tokenizer/ (default: generate SD15_SIZED into a temp folder, with
 *                         the CLIP tokenizer of test/fixtures/clip)
 *   GRID_BENCH_SIZE       WxH of the renders (default 512x512)
 *   GRID_BENCH_STEPS      steps per render (default 20)
 *   GRID_BENCH_DEVICE     the render device (default cpu)
 *   GRID_BENCH_TINY=1     the tiny test model instead of SD15_SIZED (a quick check that the bench runs)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { indexWeights, readOnnxModel } from '../server/src/render/onnx/onnxIndex';
import { DEVICE_SETTINGS, DeviceSetting } from '../server/src/render/onnx/devices';
import { RenderHost } from '../server/src/render/renderHost';
import { generateTinyPipeline, SD15_SIZED, TINY_SD15 } from '../server/src/render/testModel/generateModel';
import { writeSafetensors } from '../test/unit/render/loraFiles';
import { planGrid } from '../server/src/service/xyz';
import { runGrid } from '../server/src/render/grid/gridRunner';
import { localCellRenderer } from '../server/src/render/grid/gridCellRenderers';

const UNET_TARGETS = /(attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2)|proj_(in|out))$/;
const TE_TARGETS = /(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])$/;
const RANK = 32;
const FIXTURE_CLIP = path.resolve(__dirname, '../../test/fixtures/clip');

/** A rank-32 kohya LoRA (alpha 16) on every module of `graph` that `targets` names (as bench/loraRender makes it). */
function loraTensors(graph: string, prefix: string, targets: RegExp, seed: { s: number }) {
  const rnd = (n: number) => Float32Array.from({ length: n }, () => ((seed.s = (seed.s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.01);
  const tensors: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const w of indexWeights(readOnnxModel(graph)).weights.filter((w) => targets.test(w.module))) {
    const [out, inputs] = w.layout === 'in_out' ? [w.dims[1], w.dims[0]] : [w.dims[0], w.dims.slice(1).reduce((a, b) => a * b, 1)];
    const conv = w.layout === 'conv';
    const key = `${prefix}_${w.module.replace(/\./g, '_')}`;
    tensors[`${key}.lora_down.weight`] = { dims: conv ? [RANK, inputs, 1, 1] : [RANK, inputs], data: rnd(RANK * inputs) };
    tensors[`${key}.lora_up.weight`] = { dims: conv ? [out, RANK, 1, 1] : [out, RANK], data: rnd(out * RANK) };
    tensors[`${key}.alpha`] = { dims: [], data: Float32Array.of(RANK / 2) };
  }
  return tensors;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-grid-bench-'));
  let model = process.env.GRID_BENCH_MODEL;
  const tiny = process.env.GRID_BENCH_TINY === '1';
  if (!model) {
    model = path.join(temp, 'model');
    generateTinyPipeline(model, { ...(tiny ? TINY_SD15 : SD15_SIZED), tokenizerFrom: FIXTURE_CLIP });
  }
  const device = (process.env.GRID_BENCH_DEVICE ?? 'cpu') as DeviceSetting;
  if (!DEVICE_SETTINGS.includes(device)) throw new Error(`GRID_BENCH_DEVICE=${device}: one of ${DEVICE_SETTINGS.join(', ')}`);
  const size = process.env.GRID_BENCH_SIZE ?? '512x512';
  const steps = process.env.GRID_BENCH_STEPS ?? '20';
  const host = new RenderHost(path.resolve(__dirname, '../server/src/render/worker.js'));
  try {
    const loraFile = path.join(temp, 'bench_lora.safetensors');
    const seed = { s: 7 };
    writeSafetensors(loraFile, {
      ...loraTensors(path.join(model, 'unet/model.onnx'), 'lora_unet', UNET_TARGETS, seed),
      ...loraTensors(path.join(model, 'text_encoder/model.onnx'), 'lora_te', TE_TARGETS, seed),
    });
    const promptText = `a lighthouse on a cliff <lora:bench_lora:0.8>\nSteps: ${steps}, Sampler: Euler, CFG scale: 7, Seed: 1, Size: ${size}`;
    const lorasOf = (text: string) => {
      const w = Number(/<lora:bench_lora:([^>]+)>/.exec(text)![1]);
      return [{ name: 'bench_lora', path: loraFile, te: w, unet: w }];
    };
    console.log(`grid bench: ${tiny ? 'tiny' : 'SD1.5-sized'} model, ${size}, ${steps} steps of Euler, on ${device}, ${os.cpus().length} CPU(s)`);

    // The baseline: a single render of the file as it is, after a first render has loaded and merged everything.
    const first = await host.render({ promptText, model, device, loras: lorasOf(promptText) });
    const single = await host.render({ promptText, model, device, loras: lorasOf(promptText), overrides: { seed: 2 } });
    console.log(`single render: first ${seconds(first.timings.load)} load; again: denoise ${seconds(single.timings.denoise)}, encode ${seconds(single.timings.encode)}, decode ${seconds(single.timings.decode)}, load ${seconds(single.timings.load)}`);
    await host.release();

    const plan = planGrid(promptText, { x: 'Prompt S/R: 0.8, 0.2, 0.5, 1, 0.6' });
    const renderCell = localCellRenderer({ host, request: { device }, model: () => model!, loras: (cell) => lorasOf(cell.promptText) });
    const wall: number[] = [];
    let started = 0;
    const timed: typeof renderCell = async (cell, signal) => {
      started = performance.now();
      const r = await renderCell(cell, signal);
      wall.push(performance.now() - started);
      return r;
    };
    const run = await runGrid(plan, timed);
    const denoise = single.timings.denoise;
    const rows = run.done.map((c, i) => {
      const t = c.result!.timings!;
      const extra = wall[i] - t.denoise;
      return { i, t, wall: wall[i], extra, reused: c.result!.reused ?? [], weight: plan.x.values[c.index] };
    });
    for (const r of rows) {
      console.log(
        `cell ${r.i + 1} (weight ${r.weight.padEnd(3)}): wall ${seconds(r.wall)}, denoise ${seconds(r.t.denoise)}, load ${seconds(r.t.load)}` +
          `${r.i ? `, beyond denoise ${seconds(r.extra)} = ${((r.extra / denoise) * 100).toFixed(1)}% of a single render's denoise` : ' (loads the model)'}` +
          `${r.reused.length ? `; kept ${r.reused.join(', ')}` : ''}`,
      );
    }
    const later = rows.slice(1);
    const meanExtra = later.reduce((a, r) => a + r.extra, 0) / later.length;
    const meanLoad = later.reduce((a, r) => a + r.t.load, 0) / later.length;
    console.log(
      `cells 2-5: mean ${seconds(later.reduce((a, r) => a + r.wall, 0) / later.length)} each; the weight change (re-merge) ${seconds(meanLoad)} = ${((meanLoad / denoise) * 100).toFixed(1)}% ` +
        `of the single render's ${seconds(denoise)} denoise (target < 10%); all time beyond denoise (encode, decode, PNG: in every render too) ${seconds(meanExtra)} = ${((meanExtra / denoise) * 100).toFixed(1)}%`,
    );
  } finally {
    await host.dispose();
    fs.rmSync(temp, { recursive: true, force: true });
  }
}

void main();
