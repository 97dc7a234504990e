/**
 * What the generated test pipelines cost the render tests (`node out/bench/testModel.bench.js`):
 * per pipeline, writing it, creating its three CPU sessions, and one text encoder → UNet → VAE
 * decoder pass at 64×64 with a batch of 2 (the first, then the median of the next ones). The
 * transcribable pipeline (three trivial graphs, the one the golden renders use) is the baseline in
 * the same run: onnxruntime's fixed cost per session and per run. Printed, never asserted; the
 * generator test used to fail when the TINY_SD15 pass (first run, sessions included) took 2 s.
 *   TEST_MODEL_BENCH_RUNS  passes after the first (default 10)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { generateTinyPipeline, TINY_SD15, TINY_SDXL } from '../server/src/render/testModel/generateModel';
import { generateTranscribablePipeline } from '../server/src/render/testModel/transcribablePipeline';

const CLIP = path.resolve(__dirname, '../../test/fixtures/clip');
type Ort = typeof import('onnxruntime-node');

const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A float feed in the input's own dtype and shape, symbolic dims taken from `sizes`. */
function feed(ort: Ort, session: InferenceSession, name: string, sizes: Record<string, number>, fill: number): Tensor {
  const meta = session.inputMetadata.find((m) => m.name === name);
  if (!meta || !meta.isTensor) throw new Error(`no tensor input ${name}`);
  const dims = meta.shape.map((d) => (typeof d === 'number' ? d : sizes[d] ?? 1));
  const n = dims.reduce((a, b) => a * b, 1);
  if (meta.type === 'int64') return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(fill)), dims);
  if (meta.type === 'int32') return new ort.Tensor('int32', new Int32Array(n).fill(fill), dims);
  return new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + fill)), dims);
}

async function bench(ort: Ort, name: string, write: (folder: string) => void, runs: number): Promise<void> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-testmodel-bench-'));
  try {
    let t = process.hrtime.bigint();
    write(folder);
    const writeMs = ms(t);
    t = process.hrtime.bigint();
    const open = (graph: string) => ort.InferenceSession.create(path.join(folder, graph, 'model.onnx'));
    const [te, unet, vae] = await Promise.all([open('text_encoder'), open('unet'), open('vae_decoder')]);
    const createMs = ms(t);
    const sizes = { batch_size: 2, sequence_length: 77, height: 8, width: 8, latent_height: 8, latent_width: 8, steps: 1 };
    const pass = async () => {
      const hidden = await te.run({ input_ids: feed(ort, te, 'input_ids', sizes, 320) });
      const feeds: Record<string, Tensor> = {};
      for (const input of unet.inputNames) {
        if (input === 'encoder_hidden_states') feeds[input] = hidden[te.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : te.outputNames[0]];
        else if (input === 'timestep') feeds[input] = feed(ort, unet, input, sizes, 981);
        else feeds[input] = feed(ort, unet, input, { ...sizes, batch_size: 2 }, 0);
      }
      // SDXL's UNet context is both encoders side by side, wider than one encoder's output: give it a made-up one of its width.
      const context = unet.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
      const width = context && context.isTensor ? context.shape[2] : undefined;
      if (typeof width === 'number' && feeds.encoder_hidden_states.dims[2] !== width) feeds.encoder_hidden_states = feed(ort, unet, 'encoder_hidden_states', sizes, 1);
      const out = await unet.run(feeds);
      await vae.run({ latent_sample: out.out_sample });
    };
    t = process.hrtime.bigint();
    await pass();
    const firstMs = ms(t);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      t = process.hrtime.bigint();
      await pass();
      times.push(ms(t));
    }
    console.log(
      `${name.padEnd(14)} write ${writeMs.toFixed(0).padStart(5)} ms; sessions ${createMs.toFixed(0).padStart(5)} ms; first pass ${firstMs.toFixed(1).padStart(7)} ms; ` +
        `then median ${median(times).toFixed(1).padStart(6)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}); sessions + first pass ${(createMs + firstMs).toFixed(0)} ms`,
    );
    await Promise.all([te.release(), unet.release(), vae.release()]);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function main() {
  const ort = require('onnxruntime-node') as Ort;
  const runs = Number(process.env.TEST_MODEL_BENCH_RUNS ?? 10);
  console.log(`64×64, batch 2, CPU EP, ${runs} passes after the first; ${os.cpus().length} CPUs`);
  await bench(ort, 'transcribable', (f) => generateTranscribablePipeline(f, CLIP), runs);
  await bench(ort, 'TINY_SD15', (f) => generateTinyPipeline(f, { ...TINY_SD15, tokenizerFrom: CLIP }), runs);
  await bench(ort, 'TINY_SDXL', (f) => generateTinyPipeline(f, { ...TINY_SDXL, tokenizerFrom: CLIP }), runs);
}

main().catch((e) => {
  console.error(`test model bench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
