/**
 * LoRA merge speed (`node out/bench/merge.bench.js`): a rank-32 (and with MERGE_BENCH_RANKS=32,128 a
 * rank-128) kohya LoRA over every attention, feed-forward and projection module of an SD1.5-sized
 * UNet (~267 M weights), merged into its graph. Prints seconds, and the ratio to a memory floor
 * measured in the same run: the bytes of the patched weights read and written ÷ copy bandwidth.
 * Targets (issue 6): < 1.5 s for rank 32; re-merge after a weight change < 0.5 s.
 *   MERGE_BENCH_MODEL     an SD1.5-sized model folder (default: generate SD15_SIZED into a temp folder)
 *   MERGE_BENCH_DTYPE     fp32 or fp16: the generated model's weights (default fp32; most exported models are fp16)
 *   MERGE_BENCH_DEVICE    where the products run, as sdPrompt.render.device names it (default cpu; on a GPU
 *                         machine: webgpu, see docs/rendering.md for what that machine needs)
 *   MERGE_BENCH_BASELINE  the out/ folder of another build (`git worktree add /tmp/base <commit>`, link its
 *                         node_modules, `npx tsc -p .` there): its merge runs in this process too, alternating
 *                         with this build's MERGE_BENCH_ROUNDS times (default 3), so both see the same machine
 *   MERGE_BENCH_REMERGES  weight changes after each first merge (default 1; on a shared machine take several)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isLoraKeyMapError, mapLoraKeys } from '../server/src/render/lora/loraKeys';
import { LoraTensor } from '../server/src/render/lora/loraTensors';
import * as ort from 'onnxruntime-node';
import { DEVICE_SETTINGS, DeviceSetting } from '../server/src/render/onnx/devices';
import { renderSessionOptions } from '../server/src/render/model/sessions';
import { indexWeights, readOnnxModel } from '../server/src/render/onnx/onnxIndex';
import { generateTinyPipeline, SD15_SIZED } from '../server/src/render/testModel/generateModel';

/** The merge's modules of one build: this one, or a baseline's out/ folder (MERGE_BENCH_BASELINE). */
function mergeModules(out: string) {
  const load = (module: string) => require(path.join(out, 'server/src/render', module));
  return {
    mergeIntoGraph: load('merge/merge').mergeIntoGraph as typeof import('../server/src/render/merge/merge').mergeIntoGraph,
    MergeKernel: load('merge/mergeKernel').MergeKernel as typeof import('../server/src/render/merge/mergeKernel').MergeKernel,
    DeltaCache: load('merge/deltaCache').DeltaCache as typeof import('../server/src/render/merge/deltaCache').DeltaCache,
    GraphCache: load('onnx/graphCache').GraphCache as typeof import('../server/src/render/onnx/graphCache').GraphCache,
    MergeFiles: load('merge/mergedModelFiles').MergeFiles as typeof import('../server/src/render/merge/mergedModelFiles').MergeFiles,
    sessionModel: load('merge/mergedModelFiles').sessionModel as typeof import('../server/src/render/merge/mergedModelFiles').sessionModel,
    MergeScratch: load('merge/mergeScratch').MergeScratch as typeof import('../server/src/render/merge/mergeScratch').MergeScratch,
  };
}

const TARGETS = /(attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2)|proj_(in|out))$/;

/** Copy bandwidth between two already-touched buffers (best of three), so page faults are not counted. */
function copyBandwidth(): number {
  const from = Buffer.alloc(256 * 2 ** 20, 1);
  const to = Buffer.alloc(from.length, 2);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    from.copy(to);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return from.length / best;
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

async function main() {
  let model = process.env.MERGE_BENCH_MODEL;
  let generated: string | undefined;
  if (!model) {
    generated = model = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-merge-bench-'));
    const dtype = process.env.MERGE_BENCH_DTYPE ?? 'fp32';
    if (dtype !== 'fp32' && dtype !== 'fp16') throw new Error(`MERGE_BENCH_DTYPE=${dtype}: fp32 or fp16`);
    generateTinyPipeline(model, { ...SD15_SIZED, dtype });
  }
  try {
    const unet = path.join(model, 'unet/model.onnx');
    const index = indexWeights(readOnnxModel(unet));
    const modules = index.weights.filter((w) => TARGETS.test(w.module));
    const weights = modules.reduce((n, w) => n + w.dims.reduce((a, b) => a * b, 1), 0);
    const bytesPerWeight = modules[0].dtype === 'float16' ? 2 : 4;
    // Memory floor: read every patched weight once and write it once, at this machine's copy bandwidth.
    const bandwidth = copyBandwidth();
    const floor = (2 * weights * bytesPerWeight) / bandwidth;
    console.log(`${modules.length} ${modules[0].dtype} modules, ${(weights / 1e6).toFixed(1)} M weights; copy bandwidth ${(bandwidth / 2 ** 30).toFixed(1)} GiB/s; memory floor ${floor.toFixed(2)} s`);
    const device = (process.env.MERGE_BENCH_DEVICE ?? 'cpu') as DeviceSetting;
    if (!DEVICE_SETTINGS.includes(device)) throw new Error(`MERGE_BENCH_DEVICE=${device}: one of ${DEVICE_SETTINGS.join(', ')}`);
    const baseline = process.env.MERGE_BENCH_BASELINE;
    const builds = [{ name: 'this build', modules: mergeModules(path.join(__dirname, '..')) }];
    if (baseline) builds.push({ name: `baseline ${baseline}`, modules: mergeModules(path.resolve(baseline)) });
    const rounds = baseline ? Number(process.env.MERGE_BENCH_ROUNDS ?? 3) : 1;
    const remerges = Number(process.env.MERGE_BENCH_REMERGES ?? 1);
    for (const rank of (process.env.MERGE_BENCH_RANKS ?? '32,128').split(',').map(Number)) {
      const tensors = new Map<string, LoraTensor>();
      let seed = 1;
      const rnd = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.01);
      for (const w of modules) {
        const [out, inputs] = w.layout === 'in_out' ? [w.dims[1], w.dims[0]] : [w.dims[0], w.dims.slice(1).reduce((a, b) => a * b, 1)];
        const key = `lora_unet_${w.module.replace(/\./g, '_')}`;
        const conv = w.layout === 'conv';
        tensors.set(`${key}.lora_down.weight`, { dims: conv ? [rank, inputs, 1, 1] : [rank, inputs], data: rnd(rank * inputs) });
        tensors.set(`${key}.lora_up.weight`, { dims: conv ? [out, rank, 1, 1] : [out, rank], data: rnd(out * rank) });
        tensors.set(`${key}.alpha`, { dims: [], data: Float32Array.of(rank / 2) });
      }
      const keys = mapLoraKeys(tensors.keys());
      if (isLoraKeyMapError(keys)) throw new Error(keys.error);
      const resolved = keys.modules.map((m) => ({
        ...m,
        tensors: Object.fromEntries(Object.entries(m.tensors).map(([role, name]) => [role, tensors.get(name as string)!])),
      }));
      for (let round = 0; round < rounds; round++) {
        for (const { name, modules: m } of builds) {
          // As the render worker keeps it: kernel sessions, cached deltas and parsed graphs.
          const kernel = await m.MergeKernel.onDevice(ort, device);
          const files = new m.MergeFiles();
          const context = { kernel, cache: new m.DeltaCache(), graphs: new m.GraphCache(), scratch: new m.MergeScratch(), files };
          const lora = (unetWeight: number) => [{ name: `rank${rank}`, modules: resolved as never, te: 1, unet: unetWeight }];
          // What a render needs: the merged model's bytes for InferenceSession.create.
          const mergeFor = async (unetWeight: number) => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            const merged = await m.mergeIntoGraph(unet, 'unet', lora(unetWeight), context);
            const model = await m.sessionModel(merged, { files });
            model.dispose();
            const { user, system } = process.cpuUsage(cpu);
            return { seconds: seconds(started), cpu: (user + system) / 1e6, report: merged.reports[0] };
          };
          const { seconds: first, report: r } = await mergeFor(0.8);
          const [againEach, cpuEach]: number[][] = [[], []];
          for (let i = 0; i < remerges; i++) {
            const { seconds: wall, cpu } = await mergeFor(i % 2 ? 0.6 : 0.5);
            againEach.push(wall);
            cpuEach.push(cpu);
          }
          // On a shared machine the CPU time the process used (all its threads) varies less than the wall time.
          const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}${xs.length > 1 ? `-${Math.max(...xs).toFixed(2)}` : ''}`;
          const again = `${range(againEach)} s (CPU ${range(cpuEach)} s)`;
          // Only the merge arithmetic, into one reused buffer: what is left when the model bytes need no new memory.
          const started = process.hrtime.bigint();
          await (await m.mergeIntoGraph(unet, 'unet', lora(0.3), context)).compute(() => undefined);
          const computeOnly = seconds(started);
          if (rank === 32 && round === 0 && builds[0].modules === m) {
            // What a render waits for: a CPU session of the merged UNet against one of the plain UNet,
            // with the render's CPU options (sessions.ts).
            const options = renderSessionOptions('cpu');
            let t0 = process.hrtime.bigint();
            const merged = await m.mergeIntoGraph(unet, 'unet', lora(0.8), context);
            const model = await m.sessionModel(merged, { files });
            const withLora = await ort.InferenceSession.create(model.bytes, { ...options, extra: { session: { disable_prepacking: '1', model_external_initializers_file_folder_path: model.folder } } });
            const mergedLoad = seconds(t0);
            model.dispose();
            await withLora.release();
            t0 = process.hrtime.bigint();
            const plain = await ort.InferenceSession.create(unet, { ...options, extra: { session: { disable_prepacking: '1' } } });
            const plainLoad = seconds(t0);
            await plain.release();
            console.log(`rank 32: merge + UNet session ${mergedLoad.toFixed(2)} s against ${plainLoad.toFixed(2)} s for the UNet session without LoRA (CPU provider)`);
          }
          await context.kernel.release();
          files.clear();
          console.log(
            `${builds.length > 1 ? `${name}, round ${round + 1}: ` : ''}rank ${rank} (products on ${context.kernel.device}): merge ${first.toFixed(2)} s (${(first / floor).toFixed(1)}× the memory floor; target < 1.5 s for rank 32); ` +
              `re-merge after a weight change ${again} (target < 0.5 s); the arithmetic alone ${computeOnly.toFixed(2)} s; ` +
              `${r.matched} matched, ${r.unmatched.length} unmatched, ${r.mismatched.length} mismatched; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
          );
        }
      }
    }
  } finally {
    if (generated) fs.rmSync(generated, { recursive: true, force: true });
  }
}

void main();
