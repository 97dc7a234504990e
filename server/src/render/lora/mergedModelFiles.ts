import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MergedGraph, PatchedWeight } from './merge';
import { InitializerSlot, relocateInitializers } from './relocateInitializers';

/**
 * How onnxruntime gets a merged graph without a copy of the base weights. ORT takes in-memory
 * external data only when it holds every external file, and refuses external paths that leave the
 * model's folder (symlinks included). So the patched weights are written to a temporary file and
 * every external path of the model is made relative to the filesystem root, which is then the
 * folder the session reads external data from. ORT maps external data files, so neither the
 * patched nor the untouched weights are copied into its memory: measured on the SD1.5-sized UNet
 * with a rank-32 LoRA on every attention module, session creation took 7.2 s at 2.6 GB peak RSS,
 * against 10.4 s at 5.1 GB with the patched weights inside the model bytes (raw_data).
 * That inline form remains for a temporary folder on another drive than the model (Windows), up to
 * INLINE_BYTES (protobuf stops at 2 GB).
 */
export const INLINE_BYTES = 1536 * 2 ** 20;

/** Inline initializers from this size on are pointed at in the model file; smaller ones stay in the bytes. */
const POINT_INTO_MODEL_BYTES = 4096;

export interface SessionModel {
  bytes: Uint8Array;
  /** For `session.model_external_initializers_file_folder_path`. */
  folder: string;
  /**
   * Removes the temporary file, if one was written; true when nothing is left. Where ORT keeps the
   * file mapped (Windows) it cannot be removed until the session is released: call it again then.
   */
  dispose(): boolean;
}

export interface SessionModelOptions {
  /** Where the temporary file goes (default: the OS's temp folder). */
  tempFolder?: string;
  /** Patched weights go inside the model bytes instead of a file ('inline'; tests, other drives). */
  placement?: 'file' | 'inline';
}

const TEMP_PREFIX = 'sd-prompt-merge-';
/** A merge's temporary folder lives from the merge until its sessions exist: seconds. One this old was left by a crash. */
const STALE_MS = 60 * 60_000;

/** Removes temporary folders that crashed renderers left behind (a merged SD1.5 UNet's is 1 GB). */
function removeStaleMerges(tempFolder: string): void {
  const now = Date.now();
  for (const name of fs.readdirSync(tempFolder).filter((n) => n.startsWith(TEMP_PREFIX))) {
    const folder = path.join(tempFolder, name);
    try {
      if (now - fs.statSync(folder).mtimeMs > STALE_MS) fs.rmSync(folder, { recursive: true, force: true });
    } catch {
      // Another renderer's, or already gone: not ours to report.
    }
  }
}

function patchedBytes(m: MergedGraph): number {
  return m.patches.reduce((n, p) => n + p.length, 0);
}

export async function sessionModel(m: MergedGraph, options: SessionModelOptions = {}): Promise<SessionModel> {
  const model = new Uint8Array(fs.readFileSync(m.modelFile));
  const folder = path.dirname(path.resolve(m.modelFile));
  const root = path.parse(folder).root;
  const tempFolder = path.resolve(options.tempFolder ?? os.tmpdir());
  const placement = options.placement ?? (path.parse(tempFolder).root === root ? 'file' : 'inline');
  if (placement === 'inline') {
    if (patchedBytes(m) > INLINE_BYTES) {
      throw new Error(
        `the LoRAs patch ${(patchedBytes(m) / 2 ** 30).toFixed(1)} GiB of ${m.modelFile}: that much goes to a temporary file, which must be on the same drive as the model (${root}), but the temp folder ${tempFolder} is not`,
      );
    }
    return { bytes: await inlineModel(m, model), folder, dispose: () => true };
  }
  removeStaleMerges(tempFolder);
  const temp = fs.mkdtempSync(path.join(tempFolder, TEMP_PREFIX));
  const dispose = () => {
    try {
      fs.rmSync(temp, { recursive: true, force: true });
      return true;
    } catch {
      return false;
    }
  };
  try {
    const dataFile = path.join(temp, 'lora-patched.bin');
    const moves = await writePatches(m, dataFile, path.relative(root, dataFile)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOSPC' && e.code !== 'EDQUOT') throw e;
      throw new Error(
        `no space for the merged LoRA weights (${(patchedBytes(m) / 2 ** 30).toFixed(2)} GiB) in ${tempFolder}: free some space there, or point TMPDIR (TEMP on Windows) at a disk with room`,
      );
    });
    // Every other weight stays where it is, named from the root: an external one in its data file, and an
    // inline one (a text encoder keeps its weights inside model.onnx) as external data pointing into the
    // model file itself. So the model bytes ORT gets are the graph alone (0.4 MB instead of 492 MB for
    // SD1.5's text encoder): no copy of them here, and its session was made in 0.06 s instead of 0.4-0.8 s.
    const modelLocation = path.relative(root, path.resolve(m.modelFile));
    for (const init of m.initializers) {
      const loc = init.location;
      if (!loc || moves.has(init.name)) continue;
      if (loc.kind === 'external') moves.set(init.name, { location: path.relative(root, loc.file), offset: loc.offset, length: loc.length });
      else if (loc.length >= POINT_INTO_MODEL_BYTES) moves.set(init.name, { location: modelLocation, offset: loc.offset, length: loc.length });
    }
    return { bytes: relocateInitializers(model, moves), folder: root, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** The model with the patched weights as raw_data, each computed straight into its place. */
async function inlineModel(m: MergedGraph, model: Uint8Array): Promise<Uint8Array> {
  // Zero placeholders (views of one buffer, told apart by identity) mark where each weight goes.
  const zeros = new Uint8Array(Math.max(0, ...m.patches.map((p) => p.length)));
  const placeholders = new Map<Uint8Array, string>();
  const moves = new Map<string, InitializerSlot>();
  for (const p of m.patches) {
    const data = zeros.subarray(0, p.length);
    placeholders.set(data, p.initializer);
    moves.set(p.initializer, { data });
  }
  const offsets = new Map<string, number>();
  const bytes = relocateInitializers(model, moves, (part, offset) => {
    const name = placeholders.get(part);
    if (name !== undefined) offsets.set(name, offset);
  });
  await m.compute((patch, data) => bytes.set(data, offsets.get(patch.initializer)!));
  return bytes;
}

/**
 * Writes a complete merged model for `sd-prompt merge`: `outModel` (the graph) with the patched
 * weights in `<name>.lora.bin` beside it; the caller copies the original external data files.
 */
export async function writeMergedModel(m: MergedGraph, outModel: string): Promise<void> {
  const dataName = `${path.basename(outModel)}.lora.bin`;
  const moves = await writePatches(m, path.join(path.dirname(outModel), dataName), dataName);
  fs.writeFileSync(outModel, relocateInitializers(new Uint8Array(fs.readFileSync(m.modelFile)), moves));
}

/** Computes the patched weights into `file`, each at a page-aligned offset, and says where each went. */
async function writePatches(m: MergedGraph, file: string, location: string): Promise<Map<string, InitializerSlot>> {
  const moves = new Map<string, InitializerSlot>();
  const handle = await fs.promises.open(file, 'w');
  try {
    let at = 0;
    await m.compute(async (patch: PatchedWeight, bytes) => {
      const offset = Math.ceil(at / 4096) * 4096;
      at = offset + patch.length;
      moves.set(patch.initializer, { location, offset, length: patch.length });
      for (let written = 0; written < bytes.length; ) {
        written += (await handle.write(bytes, written, bytes.length - written, offset + written)).bytesWritten;
      }
    });
  } finally {
    await handle.close();
  }
  return moves;
}
