/**
 * Does an SDXL-sized fp16 checkpoint (~6.9 GB, written by the generator) load and run one UNet step on the CPU
 * within a 24 GB machine? (`node out/bench/checkpointSdxl.bench.js`). Prints, never asserts:
 * - generation time (skipped when SDXL_BENCH_FILE names an existing file);
 * - loadCheckpoint (header, family, architecture, weight table);
 * - the graphs built into an empty cache (bytes written against the file's size);
 * - the UNet's CPU session over the checkpoint's own bytes (fp16 widened to fp32 by the graph's Casts, as renders do);
 * - one UNet step (batch 2, as classifier-free guidance runs it) at SDXL_BENCH_SIZE (default 512) pixels;
 * - the process's peak RSS (Linux VmHWM) after each stage, against the weights' size.
 * The generated file is deleted at the end unless SDXL_BENCH_FILE was given; check free space first (`df -h /tmp`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { ldmKeyTable } from '../server/src/render/checkpoint/ldmKeyTable';
import { loadCheckpoint } from '../server/src/render/checkpoint/loadCheckpoint';
import { renderSessionOptions } from '../server/src/render/model/sessions';
import { checkpointGraphs } from '../server/src/render/sdGraphs/graphFiles';
import { graphSessionOptions } from '../server/src/render/sdGraphs/graphSessions';
import { SDXL_ARCHITECTURE, writeCheckpoint } from '../server/src/render/testModel/generateCheckpoint';

const seconds = (from: bigint) => (Number(process.hrtime.bigint() - from) / 1e9).toFixed(1);
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);

function peakRss(): number {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const keep = process.env.SDXL_BENCH_FILE;
  const pixels = Number(process.env.SDXL_BENCH_SIZE ?? 512);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-sdxl-bench-'));
  const checkpoint = keep ?? path.join(root, 'sdxl-sized-fp16.safetensors');
  try {
    if (!fs.existsSync(checkpoint)) {
      const t = process.hrtime.bigint();
      writeCheckpoint(checkpoint, { architecture: SDXL_ARCHITECTURE, dtype: 'F16', seed: 1 });
      console.log(`generated the SDXL-sized fp16 checkpoint in ${seconds(t)} s; peak RSS ${gib(peakRss())} GiB`);
    }
    const size = fs.statSync(checkpoint).size;
    console.log(`checkpoint: ${gib(size)} GiB`);

    let t = process.hrtime.bigint();
    const loaded = await loadCheckpoint(checkpoint);
    console.log(`loadCheckpoint: ${seconds(t)} s (${loaded.architecture.family}, ${JSON.stringify(loaded.dtypes)})`);

    const cacheRoot = path.join(root, 'cache');
    t = process.hrtime.bigint();
    const graphs = checkpointGraphs({ checkpoint, architecture: loaded.architecture, source: loaded.weights, dtype: 'float32', cacheRoot });
    console.log(`graphs built: ${seconds(t)} s, ${(graphs.bytesWritten / 2 ** 20).toFixed(1)} MiB written (${((100 * graphs.bytesWritten) / size).toFixed(2)}% of the file)`);

    const unetGraph = graphs.graphs.unet!;
    t = process.hrtime.bigint();
    const unet = await ort.InferenceSession.create(unetGraph.model, graphSessionOptions(unetGraph, renderSessionOptions('cpu')));
    console.log(`UNet CPU session: ${seconds(t)} s; peak RSS ${gib(peakRss())} GiB`);

    const u = loaded.architecture.unet;
    const latent = pixels / 8;
    const batch = 2;
    const pooled = (u.admInChannels ?? 0) - 6 * (u.additionTimeEmbedDim ?? 0);
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', new Float32Array(batch * 4 * latent * latent).fill(0.1), [batch, 4, latent, latent]),
      timestep: new ort.Tensor('float32', new Float32Array([999]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', new Float32Array(batch * 77 * u.contextDim).fill(0.01), [batch, 77, u.contextDim]),
      text_embeds: new ort.Tensor('float32', new Float32Array(batch * pooled).fill(0.01), [batch, pooled]),
      time_ids: new ort.Tensor('float32', Float32Array.from({ length: batch * 6 }, (_, i) => [pixels, pixels, 0, 0, pixels, pixels][i % 6]), [batch, 6]),
    };
    t = process.hrtime.bigint();
    const out = await unet.run(feeds);
    const noise = out[unet.outputNames[0]].data as Float32Array;
    const finite = noise.every(Number.isFinite);
    console.log(`one UNet step (batch ${batch}, ${pixels}×${pixels}): ${seconds(t)} s, output finite: ${finite}`);
    await unet.release();
    const peak = peakRss();
    // The CPU graph widens the UNet's fp16 weights to fp32 once (its Casts are folded at session creation): that is
    // the floor; the text encoders and VAE, not loaded here, are the rest of the file.
    const unetFp32 = 4 * ldmKeyTable(loaded.architecture).filter((e) => e.component === 'unet').reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
    console.log(`peak RSS ${gib(peak)} GiB = ${(peak / size).toFixed(2)}× the fp16 file, ${(peak / unetFp32).toFixed(2)}× the UNet's weights in fp32 (${gib(unetFp32)} GiB)`);
  } finally {
    // The temporary folder holds the generated file (unless SDXL_BENCH_FILE kept it elsewhere) and the graph cache.
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
