/**
 * What opening a single-file checkpoint costs before the first step (`node out/bench/checkpointGraphs.bench.js`):
 * reading it (render/checkpoint), building and writing its graphs into the cache (cold), finding them there
 * (warm), and creating the UNet's CPU session over the checkpoint's own bytes; disk written against the
 * checkpoint's size (target ≤ 2%) and the process's peak RSS. The checkpoint is generated once (SD1.5-sized,
 * fp16, ~2 GB) and kept in the OS temp folder between runs. Printed, never asserted.
 *   CKPT_BENCH_DTYPE  F16 (default), F32 or BF16
 *   CKPT_BENCH_TINY   1: the tiny SD1 architecture instead (a quick check that the bench runs)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../server/src/render/checkpoint/loadCheckpoint';
import { renderSessionOptions } from '../server/src/render/model/sessions';
import { checkpointGraphs } from '../server/src/render/sdGraphs/graphFiles';
import { graphSessionOptions } from '../server/src/render/sdGraphs/graphSessions';
import { CheckpointDtype, SD15_ARCHITECTURE, TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../server/src/render/testModel/generateCheckpoint';

const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function peakRss(): number {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const dtype = (process.env.CKPT_BENCH_DTYPE ?? 'F16') as CheckpointDtype;
  const tiny = process.env.CKPT_BENCH_TINY === '1';
  const arch = tiny ? TINY_SD1_ARCHITECTURE : SD15_ARCHITECTURE;
  const checkpoint = path.join(os.tmpdir(), `sd-prompt-bench-${tiny ? 'tiny' : 'sd15'}-${dtype}.safetensors`);
  if (!fs.existsSync(checkpoint)) {
    const t = process.hrtime.bigint();
    writeCheckpoint(checkpoint, { architecture: arch, dtype, seed: 1 });
    console.log(`generated ${checkpoint} in ${(ms(t) / 1000).toFixed(1)} s`);
  }
  const size = fs.statSync(checkpoint).size;
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-graph-cache-bench-'));
  try {
    let t = process.hrtime.bigint();
    const loaded = await loadCheckpoint(checkpoint);
    const readMs = ms(t);
    t = process.hrtime.bigint();
    const cold = checkpointGraphs({ checkpoint, architecture: loaded.architecture, source: loaded.weights, dtype: 'float32', cacheRoot });
    const coldMs = ms(t);
    t = process.hrtime.bigint();
    const warm = checkpointGraphs({ checkpoint, architecture: loaded.architecture, source: loaded.weights, dtype: 'float32', cacheRoot });
    const warmMs = ms(t);
    const rssBefore = process.memoryUsage().rss;
    t = process.hrtime.bigint();
    const unet = await ort.InferenceSession.create(warm.graphs.unet!.model, graphSessionOptions(warm.graphs.unet!, renderSessionOptions('cpu')));
    const sessionMs = ms(t);
    const rssAfter = process.memoryUsage().rss;
    await unet.release();
    console.log(`checkpoint ${path.basename(checkpoint)}: ${mb(size)} MiB (${dtype})`);
    console.log(`read (header, architecture, weight table): ${readMs.toFixed(0)} ms`);
    console.log(`graphs built and written (cold): ${coldMs.toFixed(0)} ms, ${mb(cold.bytesWritten)} MiB written = ${((100 * cold.bytesWritten) / size).toFixed(2)}% of the checkpoint`);
    console.log(`graphs from the cache (warm): ${warmMs.toFixed(1)} ms (cached: ${warm.cached})`);
    console.log(`UNet CPU session over the checkpoint: ${sessionMs.toFixed(0)} ms, RSS +${mb(rssAfter - rssBefore)} MiB; peak RSS ${mb(peakRss())} MiB`);
  } finally {
    fs.rmSync(cacheRoot, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
