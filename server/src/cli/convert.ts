import * as path from 'path';
import { CheckpointError, loadCheckpoint } from '../render/checkpoint';
import { convertCheckpoint, ConvertDtype, ConvertResult } from '../render/checkpoint/convertCheckpoint';
import { sidecarVae } from '../render/model/checkpointModel';
import { errnoText, OutputError, StagedFolder } from './stagedOutput';
import { UsageError } from './usage';

/**
 * `sd-prompt convert CKPT --out DIR [--fp16|--fp32] [--vae FILE] [--json] [--force]`: an A1111 single-file checkpoint as a
 * diffusers ONNX folder that onnxruntime (a plain InferenceSession per graph) and the renderer open. The folder is
 * written in a hidden sibling and renamed into place (stagedOutput.ts): a failure or Ctrl-C leaves nothing, an
 * existing folder is replaced only with --force and only if sd-prompt wrote it, and the checkpoint is only read.
 */

export interface ConvertOptions {
  checkpoint: string;
  out: string;
  dtype: ConvertDtype;
  /** A VAE file instead of the checkpoint's own (default: its `<name>.vae.safetensors` sidecar, as a render picks). */
  vae?: string;
  json: boolean;
  force: boolean;
}

export function parseConvertArgs(args: string[]): ConvertOptions {
  const o: Partial<ConvertOptions> = { json: false, force: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out') {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError('--out needs a folder');
      o.out = v;
    } else if (a === '--vae') {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError('--vae needs a VAE file');
      o.vae = path.resolve(v);
    } else if (a === '--fp16' || a === '--fp32') {
      const dtype = a === '--fp16' ? 'float16' : 'float32';
      if (o.dtype !== undefined && o.dtype !== dtype) throw new UsageError('--fp16 and --fp32 exclude each other');
      o.dtype = dtype;
    } else if (a === '--json') o.json = true;
    else if (a === '--force') o.force = true;
    else if (a.startsWith('--')) throw new UsageError(`unknown option '${a}'`);
    else if (o.checkpoint !== undefined) throw new UsageError('convert takes one checkpoint file');
    else o.checkpoint = a;
  }
  if (!o.checkpoint) throw new UsageError('convert needs a checkpoint file (CKPT.safetensors)');
  if (!o.out) throw new UsageError('convert needs --out DIR');
  return o as ConvertOptions;
}

export async function runConvert(o: ConvertOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  const checkpoint = path.resolve(o.checkpoint);
  // The checkpoint is checked (header, family, every weight) before anything is written.
  const vae = o.vae ?? sidecarVae(checkpoint);
  await loadCheckpoint(checkpoint, vae ? { vae } : {});
  const staged = StagedFolder.create(o.out, { force: o.force, source: checkpoint, loras: [] });
  let result: ConvertResult;
  try {
    result = await convertCheckpoint(checkpoint, staged.staging, { dtype: o.dtype, ...(vae ? { vae } : {}) });
    staged.commit({ source: checkpoint, loras: [] });
  } catch (e) {
    staged.abandon();
    throw failure(e, o.out);
  }
  report(io, o.json, staged.target, result);
  return 0;
}

/** An errno while writing becomes one line saying nothing was written; a checkpoint's own error stays as it is. */
export function failure(e: unknown, out: string): Error {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof CheckpointError || e instanceof OutputError) return e;
  if (err.code && err.syscall) return new OutputError(`convert failed: ${errnoText(err)}${err.path ? ` (${err.path})` : ''}; nothing was written to ${out}`);
  return e as Error;
}

export function report(io: { stdout: (s: string) => void }, json: boolean, target: string, result: ConvertResult): void {
  const a = result.architecture;
  if (json) {
    io.stdout(JSON.stringify({ out: target, family: a.family, prediction: a.prediction, dtypes: result.dtypes, weightBytes: result.weightBytes, components: result.components, ...(result.vae ? { vae: result.vae } : {}) }) + '\n');
    return;
  }
  const dtypes = Object.entries(result.dtypes).map(([d, n]) => `${n} ${d}`).join(', ');
  io.stdout(`${a.family} (${a.prediction}), ${result.components.join(', ')}: ${dtypes} weights, ${(result.weightBytes / 2 ** 20).toFixed(1)} MiB\n`);
  if (result.vae) io.stdout(`VAE from ${result.vae}\n`);
  io.stdout(`wrote ${target}\n`);
}

