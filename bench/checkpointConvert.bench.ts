/**
 * A single-file checkpoint against its diffusers-folder twin (`sd-prompt convert` makes the twin), on the
 * SD1.5-sized fp16 checkpoint the generator writes (~2.1 GB; `node out/bench/checkpointConvert.bench.js`):
 * - `convert`: time, bytes written, peak RSS (in a child process, so only the conversion is measured);
 * - time to the first step (session load + text encoding + one denoising step, 256×256, CPU) from the checkpoint
 *   with an empty graph cache, from the twin, and from the checkpoint again with its graphs cached, each in a
 *   fresh render worker; the target is checkpoint ≤ 1.1× twin;
 * - `merge --model CKPT --out FILE.safetensors` with a one-module LoRA: time and peak RSS against the file's size
 *   (the copy streams, so RSS must stay far below it).
 * Printed, never asserted.
 *   CHECKPOINT_BENCH_FILE  use (and keep) this file instead of a temporary one; written when missing
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RenderHost } from '../server/src/render/renderHost';
import { SD15_ARCHITECTURE, writeCheckpoint } from '../server/src/render/testModel/generateCheckpoint';

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const CLI = path.resolve(__dirname, '../server/src/cli/main.js');

/** Bytes of the files under `dir` (a symbolic link counts as itself: the graph cache links to the checkpoint). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(p) : fs.lstatSync(p).size;
  }
  return total;
}

/**
 * The CLI in a child process: its exit code, wall time and peak RSS. The peak is Linux's VmHWM (this process image's
 * own high-water mark): getrusage's maxRSS carries the parent's over exec, which after the renders is gigabytes.
 */
function cli(args: string[], env: NodeJS.ProcessEnv): { code: number | null; seconds: number; peakRssMb: number; stderr: string } {
  const peak = `(() => { try { return Number(/VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]); } catch { return process.resourceUsage().maxRSS; } })()`;
  const script = `require(${JSON.stringify(CLI)}).main(${JSON.stringify(args)}, { stdout: () => {}, stderr: (s) => process.stderr.write(s), readFile: () => '', readStdin: () => '' })
    .then((code) => { process.stdout.write(String(${peak})); process.exit(code); })`;
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  return { code: r.status, seconds: Number(process.hrtime.bigint() - t) / 1e9, peakRssMb: Number(r.stdout) / 1024, stderr: r.stderr };
}

/**
 * This process's peak RSS (VmHWM, MB) since the last reset. The render worker is a thread of this process; writing 5
 * to clear_refs resets the mark (Linux), so each render's peak is its own. Undefined where that is not possible.
 */
function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRssMb(): number {
  const m = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function firstStep(model: string, cache: string): Promise<{ load: number; encode: number; step: number; total: number; peakRssMb?: number }> {
  process.env.XDG_CACHE_HOME = cache;
  const host = new RenderHost(path.resolve(__dirname, '../server/src/render/worker.js'));
  const measured = resetPeakRss();
  try {
    const r = await host.render({ promptText: 'a lighthouse\nSteps: 1, Sampler: Euler, CFG scale: 6, Seed: 1, Size: 256x256', model, device: 'cpu' });
    const t = r.timings;
    return { load: t.load, encode: t.encode, step: t.denoise, total: t.load + t.encode + t.denoise, ...(measured ? { peakRssMb: peakRssMb() } : {}) };
  } finally {
    await host.dispose();
  }
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-convert-bench-'));
  const keep = process.env.CHECKPOINT_BENCH_FILE;
  const file = keep ?? path.join(root, 'sd15-sized-fp16.safetensors');
  try {
    if (!fs.existsSync(file)) {
      const t = Date.now();
      writeCheckpoint(file, { architecture: SD15_ARCHITECTURE, dtype: 'F16', seed: 1, extras: true });
      console.log(`wrote the SD1.5-sized fp16 checkpoint in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    }
    const size = fs.statSync(file).size;
    const env = { ...process.env, XDG_CACHE_HOME: path.join(root, 'cli-cache') };
    const twin = path.join(root, 'twin');
    const converted = cli(['convert', file, '--out', twin], env);
    if (converted.code !== 0) throw new Error(converted.stderr);
    const written = folderBytes(twin);
    console.log(
      `convert: ${converted.seconds.toFixed(1)} s, ${mb(written)} MB written (${((written / size) * 100).toFixed(1)}% of the ${mb(size)} MB checkpoint), peak RSS ${converted.peakRssMb.toFixed(0)} MB`,
    );

    const cache = path.join(root, 'render-cache');
    const fmt = (s: { load: number; encode: number; step: number; total: number; peakRssMb?: number }) =>
      `${(s.total / 1000).toFixed(2)} s (load ${(s.load / 1000).toFixed(2)}, encode ${(s.encode / 1000).toFixed(2)}, step ${(s.step / 1000).toFixed(2)})` +
      (s.peakRssMb === undefined ? '' : `, peak RSS ${s.peakRssMb.toFixed(0)} MB = ${((s.peakRssMb * 2 ** 20) / size).toFixed(2)}× the file`);
    // The process's first render also pays for loading onnxruntime's native library and its first sessions (seconds):
    // a throwaway render of the twin takes that, so the first measured render is not charged for being first.
    const warmUp = await firstStep(twin, path.join(root, 'warm-up-cache'));
    console.log(`warm-up render (the twin; not compared): ${fmt(warmUp)}`);
    const cold = await firstStep(file, cache);
    const graphBytes = folderBytes(path.join(cache, 'sd-prompt', 'graphs'));
    const folder = await firstStep(twin, cache);
    const warm = await firstStep(file, cache);
    console.log(`first step, checkpoint, graphs built: ${fmt(cold)}; graph cache ${mb(graphBytes)} MB (${((graphBytes / size) * 100).toFixed(2)}% of the file)`);
    console.log(`first step, folder twin:              ${fmt(folder)}`);
    console.log(`first step, checkpoint, graphs cached: ${fmt(warm)}`);
    console.log(`ratio checkpoint/twin: ${(cold.total / folder.total).toFixed(2)}× cold, ${(warm.total / folder.total).toFixed(2)}× cached`);

    // One UNet module (down_blocks.0's first cross-attention to_k, [320, 768]) at rank 4.
    const lora = path.join(root, 'one.safetensors');
    writeLora(lora, 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 320, 768, 4);
    const merged = cli(['merge', '--model', file, '--lora', lora, '--out', path.join(root, 'merged.safetensors')], env);
    if (merged.code !== 0) throw new Error(merged.stderr);
    console.log(`merge to .safetensors: ${merged.seconds.toFixed(1)} s, peak RSS ${merged.peakRssMb.toFixed(0)} MB (${((merged.peakRssMb * 2 ** 20) / size * 100).toFixed(0)}% of the file)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** A kohya LoRA of one Linear module, fp32, small random factors. */
function writeLora(file: string, module: string, out: number, inF: number, rank: number): void {
  const tensors: [string, number[], Float32Array][] = [
    [`${module}.lora_down.weight`, [rank, inF], Float32Array.from({ length: rank * inF }, (_, i) => Math.sin(i) * 0.01)],
    [`${module}.lora_up.weight`, [out, rank], Float32Array.from({ length: out * rank }, (_, i) => Math.cos(i) * 0.01)],
  ];
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([prefix, json, ...tensors.map(([, , d]) => Buffer.from(d.buffer))]));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
