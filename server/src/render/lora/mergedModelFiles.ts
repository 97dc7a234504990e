import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MergedGraph, PatchedWeight } from './merge';
import { readOnnxModel } from './onnxIndex';
import { InitializerSlot, relocateInitializers } from './relocateInitializers';

/**
 * How onnxruntime gets a merged graph without a copy of the base weights. ORT takes in-memory
 * external data only when it holds every external file, and refuses external paths that leave
 * the model's folder (symlinks included), so:
 * - up to INLINE_BYTES of patched weights go inside the model bytes (raw_data) and the session is
 *   created from those bytes with `model_external_initializers_file_folder_path` set to the
 *   original folder, where every untouched weight is read from the user's files;
 * - past that (protobuf stops at 2 GB; an SDXL fp16 LoRA patches ~4 GB) the patched weights are
 *   written to a temporary file and every external path is made relative to the filesystem root,
 *   which then is the folder the session is given.
 * Either way each new weight is computed straight into its place (MergedGraph.compute).
 */
export const INLINE_BYTES = 1536 * 2 ** 20;

export interface SessionModel {
  bytes: Uint8Array;
  /** For `session.model_external_initializers_file_folder_path`. */
  folder: string;
  /** Removes the temporary file, if one was written; call once the session is released. */
  dispose(): void;
}

function patchedBytes(m: MergedGraph): number {
  return m.patches.reduce((n, p) => n + p.length, 0);
}

export interface SessionModelOptions {
  tempFolder?: string;
  inlineBytes?: number;
  /**
   * The bytes of an earlier session model of the same graph, written over when the new one has the
   * same length (a weight change keeps the layout): no fresh memory, so no page faults.
   */
  reuse?: Uint8Array;
}

export async function sessionModel(m: MergedGraph, options: SessionModelOptions = {}): Promise<SessionModel> {
  const model = new Uint8Array(fs.readFileSync(m.modelFile));
  const folder = path.dirname(path.resolve(m.modelFile));
  if (patchedBytes(m) <= (options.inlineBytes ?? INLINE_BYTES)) {
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
    const bytes = relocateInitializers(
      model,
      moves,
      (part, offset) => {
        const name = placeholders.get(part);
        if (name !== undefined) offsets.set(name, offset);
      },
      options.reuse,
    );
    await m.compute((patch, data) => bytes.set(data, offsets.get(patch.initializer)!));
    return { bytes, folder, dispose: () => undefined };
  }
  const temp = fs.mkdtempSync(path.join(options.tempFolder ?? os.tmpdir(), 'sd-prompt-merge-'));
  const dispose = () => {
    // Best effort: where ORT keeps the file mapped (Windows) it cannot be removed yet; it is in the temp folder.
    try {
      fs.rmSync(temp, { recursive: true, force: true });
    } catch {
      /* left to the OS's temp cleanup */
    }
  };
  try {
    const dataFile = path.join(temp, 'lora-patched.bin');
    const root = path.parse(folder).root;
    if (path.parse(path.resolve(dataFile)).root !== root) {
      throw new Error(`the LoRAs patch ${(patchedBytes(m) / 2 ** 30).toFixed(1)} GiB of ${m.modelFile}; that much is written to a temporary file, which must be on the same drive as the model (${root}), but ${temp} is not`);
    }
    const moves = await writePatches(m, dataFile, path.relative(root, dataFile));
    // Every other external weight: the same file, named from the root.
    for (const init of readOnnxModel(m.modelFile).graph.initializers) {
      const loc = init.location;
      if (loc?.kind === 'external' && !moves.has(init.name)) moves.set(init.name, { location: path.relative(root, loc.file), offset: loc.offset, length: loc.length });
    }
    return { bytes: relocateInitializers(model, moves), folder: root, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
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
  const fd = fs.openSync(file, 'w');
  try {
    let at = 0;
    await m.compute((patch: PatchedWeight, bytes) => {
      const offset = Math.ceil(at / 4096) * 4096;
      fs.writeSync(fd, bytes, 0, bytes.length, offset);
      moves.set(patch.initializer, { location, offset, length: patch.length });
      at = offset + patch.length;
    });
  } finally {
    fs.closeSync(fd);
  }
  return moves;
}
