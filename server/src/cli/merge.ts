import * as fs from 'fs';
import { UsageError } from './usage';
import * as path from 'path';
import { openModelGraphs } from '../render/model/modelFolder';
import { LoraMergeReport, loraMergeSummary } from '../../../common/src/mergeReport';
import { LoraMerger } from '../render/merge/loraMerger';
import type { MergedGraph } from '../render/merge/merge';
import { LoraSpec, prepareLoras } from '../render/lora/prepare';
import { pyFloat, pyInt } from '../service/semantics/pyNumbers';
import { errnoText, MERGE_MARK, OutputError, StagedFolder } from './stagedOutput';
import { isCheckpointModel, runCheckpointMerge } from './mergeCheckpoint';

/**
 * `sd-prompt merge --model DIR --lora FILE[:TE[:UNET[:DYN]]]... --out DIR2 [--json] [--force]`: a complete
 * model folder with the LoRAs baked in, readable by any ONNX Runtime diffusers pipeline. The source
 * folder is never written; an existing output folder is replaced only with --force, and only if an
 * earlier merge wrote it (stagedOutput.ts). The output appears whole or not at all: a LoRA that
 * could not be merged fails the merge (exit 1) and nothing is written.
 */

export interface MergeOptions {
  model: string;
  loras: LoraSpec[];
  out: string;
  json: boolean;
  force: boolean;
}

/**
 * `FILE[:TE[:UNET[:DYN]]]`, numbers taken from the right so paths with colons still work. DYN is
 * A1111's `dyn` (the tag's fourth argument): only the first DYN ranks of each plain LoRA module.
 */
export function parseLoraSpec(spec: string): LoraSpec {
  const parts = spec.split(':');
  const numbers: string[] = [];
  while (parts.length > 1 && numbers.length < 3) {
    if (pyFloat(parts[parts.length - 1]) === undefined) break;
    numbers.unshift(parts.pop()!);
  }
  const file = parts.join(':');
  if (!file) throw new UsageError(`--lora needs a file: '${spec}'`);
  const te = numbers[0] !== undefined ? pyFloat(numbers[0])! : 1;
  const unet = numbers[1] !== undefined ? pyFloat(numbers[1])! : te;
  const lora: LoraSpec = { name: path.basename(file).replace(/\.[^.]+$/, ''), path: path.resolve(file), te, unet };
  if (numbers[2] !== undefined) {
    // A1111 reads dyn with int(): '8.0' is a ValueError there, so it is refused here too.
    const dyn = pyInt(numbers[2]);
    if (dyn === undefined) throw new UsageError(`--lora '${spec}': DYN must be a whole number of ranks, not '${numbers[2]}'`);
    lora.dyn = dyn;
  }
  return lora;
}

export function parseMergeArgs(args: string[]): MergeOptions {
  const o: Partial<MergeOptions> & { loras: LoraSpec[] } = { loras: [], json: false, force: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--model') o.model = value();
    else if (a === '--lora') o.loras.push(parseLoraSpec(value()));
    else if (a === '--out') o.out = value();
    else if (a === '--json') o.json = true;
    else if (a === '--force') o.force = true;
    else throw new UsageError(`unknown option '${a}'`);
  }
  if (!o.model) throw new UsageError('merge needs --model DIR|CKPT');
  if (!o.out) throw new UsageError('merge needs --out DIR2 (or FILE.safetensors for a checkpoint)');
  if (o.loras.length === 0) throw new UsageError('merge needs at least one --lora FILE[:TE[:UNET[:DYN]]]');
  return o as MergeOptions;
}

export async function runMerge(o: MergeOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  if (isCheckpointModel(o.model)) {
    const { loras, target } = await runCheckpointMerge(o, io);
    return reportMerge(o, io, loras, target);
  }
  if (/\.safetensors$/i.test(o.out)) throw new UsageError(`--out ${o.out}: a .safetensors output is a checkpoint, written from --model CKPT (a single-file checkpoint); from a model folder, --out is a folder`);
  const source = path.resolve(o.model);
  // Everything that can be checked before the work is: the model folder, then where the output goes.
  const folder = openModelGraphs(source);
  const staged = StagedFolder.create(o.out, { force: o.force, source: o.model, loras: o.loras.map((l) => l.path) });
  let loras: LoraMergeReport[];
  try {
    const prepared = await prepareLoras(o.loras);
    // The products run when copyFolder writes each merged graph: the merger (its kernel and helper threads) lives until then.
    const merger = new LoraMerger(require('onnxruntime-node'), 'cpu');
    try {
      const result = await merger.plan(folder, prepared);
      loras = result.loras;
      if (!loras.some((l) => l.error)) {
        const replaced = new Map([...result.merged].map(([file, m]) => [path.relative(source, file), m]));
        await copyFolder(source, staged.staging, replaced, (m, out) => merger.writeModel(m, out));
      }
    } finally {
      await merger.release();
    }
    if (loras.some((l) => l.error)) staged.abandon();
    else staged.commit({ source, loras: loras.map((l) => ({ name: l.name, file: l.file, te: l.te, unet: l.unet, ...(l.dyn !== undefined ? { dyn: l.dyn } : {}), matched: l.matched })) });
  } catch (e) {
    staged.abandon();
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.syscall) throw new OutputError(`merge failed: ${errnoText(err)}${err.path ? ` (${err.path})` : ''}; nothing was written to ${o.out}`);
    throw e;
  }
  return reportMerge(o, io, loras, staged.target);
}

/** The merge's report per LoRA (or --json), and the exit code: 1 when a LoRA could not be merged (nothing was written). */
function reportMerge(o: MergeOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }, loras: LoraMergeReport[], target: string | undefined): number {
  const failed = loras.filter((l) => l.error);
  if (o.json) io.stdout(JSON.stringify({ out: failed.length ? null : target, loras }) + '\n');
  else {
    for (const l of loras) {
      io.stdout(loraMergeSummary(l) + '\n');
      for (const u of l.unmatched.slice(0, 20)) io.stdout(`  unmatched: ${u}\n`);
      for (const m of l.mismatched.slice(0, 20)) io.stdout(`  mismatched: ${m}\n`);
    }
    if (!failed.length) io.stdout(`wrote ${target}\n`);
  }
  if (failed.length) io.stderr(`sd-prompt: merge failed: ${failed.map((l) => l.name).join(', ')} could not be merged; nothing was written to ${o.out}\n`);
  return failed.length ? 1 : 0;
}

/**
 * Copies the model folder; a merged graph is written as its model file plus `<model>.lora.bin`
 * with the patched weights, and keeps reading every other weight from the copied data file.
 */
async function copyFolder(from: string, to: string, replaced: Map<string, MergedGraph>, write: (m: MergedGraph, outModel: string) => Promise<void>, rel = ''): Promise<void> {
  fs.mkdirSync(path.join(to, rel), { recursive: true });
  for (const entry of fs.readdirSync(path.join(from, rel), { withFileTypes: true })) {
    const relPath = path.join(rel, entry.name);
    // The source's own mark (it is an earlier merge's output) is not this merge's: commit writes that.
    if (relPath === MERGE_MARK) continue;
    if (entry.isDirectory()) {
      await copyFolder(from, to, replaced, write, relPath);
      continue;
    }
    const merged = replaced.get(relPath);
    if (merged) await write(merged, path.join(to, relPath));
    else fs.copyFileSync(path.join(from, relPath), path.join(to, relPath));
  }
}
