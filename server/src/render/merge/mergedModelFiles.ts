import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MergedGraph, PatchedWeight } from './merge';
import { InitializerSlot, relocateInitializers } from '../onnx/relocateInitializers';
import type { OnnxInitializer } from '../onnx/onnxIndex';

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
  /** Keeps the temporary file for the graph's next merge to overwrite (see MergeFiles). */
  files?: MergeFiles;
}

/**
 * The temporary weight files of a worker's merges, one per graph, kept after their sessions are made
 * instead of removed. The next merge of that graph overwrites its file in place, which is faster than
 * writing a new one because the file's pages exist: 1.07 GB (SD1.5's UNet) took 0.19 s to overwrite
 * and 0.3-0.7 s to write anew on the 2-core dev machine. For callers that release a graph's sessions
 * before they merge it again (the render worker does): a session maps its file, and overwriting it
 * under a live session would change that session's weights.
 */
export class MergeFiles {
  private readonly files = new Map<string, string>();
  /**
   * Each graph's last relocated model bytes, with what they were made from: a weight change writes the
   * same weights to the same places, and relocating SD1.5's UNet again took 30-60 ms of a 0.5 s re-merge.
   */
  private readonly relocated = new Map<string, { initializers: readonly OnnxInitializer[]; layout: string; bytes: Uint8Array }>();

  /** The file `modelFile`'s last merge kept, if it still exists; the caller owns it from now on. */
  take(modelFile: string): string | undefined {
    const file = this.files.get(modelFile);
    this.files.delete(modelFile);
    return file && fs.existsSync(file) ? file : undefined;
  }

  /** The file kept for `modelFile`, without taking it. */
  fileOf(modelFile: string): string | undefined {
    return this.files.get(modelFile);
  }

  keep(modelFile: string, dataFile: string): void {
    const old = this.files.get(modelFile);
    if (old && old !== dataFile) removeFolder(path.dirname(old));
    this.files.set(modelFile, dataFile);
  }

  /**
   * The model bytes made by `relocate` for this graph (its parse, `initializers`) with the patched
   * weights at `layout`; made again only when either differs from the last call's.
   */
  relocatedModel(modelFile: string, initializers: readonly OnnxInitializer[], layout: string, relocate: () => Uint8Array): Uint8Array {
    const last = this.relocated.get(modelFile);
    if (last && last.initializers === initializers && last.layout === layout) return last.bytes;
    const bytes = relocate();
    this.relocated.set(modelFile, { initializers, layout, bytes });
    return bytes;
  }

  /** Removes every kept file; true when all are gone (Windows keeps one that a live session maps). */
  clear(): boolean {
    const all = [...this.files.values()];
    this.files.clear();
    this.relocated.clear();
    return all.map((f) => removeFolder(path.dirname(f))).every(Boolean);
  }
}

function removeFolder(folder: string): boolean {
  try {
    fs.rmSync(folder, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

export const TEMP_PREFIX = 'sd-prompt-merge-';
/**
 * A merge's temporary folders are named after the process (`sd-prompt-merge-<pid>-XXXXXX`), so the
 * process can remove its own when it ends (installMergeTempCleanup, in the main thread: the folders are
 * made in the render worker, which signals never reach), and a later renderer can tell a dead one's.
 */
export function ownTempPrefix(pid = process.pid): string {
  return `${TEMP_PREFIX}${pid}-`;
}
/** A folder without a pid (an older version's) lives from its merge until its sessions exist: seconds. One this old was left by a crash. */
const STALE_MS = 60 * 60_000;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary folders that ended renderers left behind (a merged SD1.5 UNet's is 1 GB): those of
 * processes no longer running, and unnamed ones over an hour old.
 */
export function removeStaleMerges(tempFolder: string): void {
  const now = Date.now();
  for (const name of fs.readdirSync(tempFolder).filter((n) => n.startsWith(TEMP_PREFIX))) {
    const folder = path.join(tempFolder, name);
    const pid = /^(\d+)-/.exec(name.slice(TEMP_PREFIX.length))?.[1];
    try {
      if (pid !== undefined ? Number(pid) !== process.pid && !isRunning(Number(pid)) : now - fs.statSync(folder).mtimeMs > STALE_MS) {
        fs.rmSync(folder, { recursive: true, force: true });
      }
    } catch {
      // Another renderer's, or already gone: not ours to report.
    }
  }
}

function patchedBytes(m: MergedGraph): number {
  return m.patches.reduce((n, p) => n + p.length, 0);
}

export async function sessionModel(m: MergedGraph, options: SessionModelOptions = {}): Promise<SessionModel> {
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
    return { bytes: await inlineModel(m, new Uint8Array(fs.readFileSync(m.modelFile))), folder, dispose: () => true };
  }
  removeStaleMerges(tempFolder);
  let recycled = options.files?.take(m.modelFile);
  if (recycled && path.parse(recycled).root !== root) recycled = undefined;
  let temp = recycled ? path.dirname(recycled) : fs.mkdtempSync(path.join(tempFolder, ownTempPrefix()));
  const dispose = () => (options.files ? true : removeFolder(temp));
  try {
    let dataFile = recycled ?? path.join(temp, 'lora-patched.bin');
    const write = () =>
      writePatches(m, dataFile, path.relative(root, dataFile), dataFile === recycled ? 'r+' : 'w').catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOSPC' && e.code !== 'EDQUOT') throw e;
        throw new Error(
          `no space for the merged LoRA weights (${(patchedBytes(m) / 2 ** 30).toFixed(2)} GiB) in ${tempFolder}: free some space there, or point TMPDIR (TEMP on Windows) at a disk with room`,
        );
      });
    let moves: Map<string, InitializerSlot>;
    if (recycled) {
      // A kept folder is in use: its time keeps other renderers' sweep of stale merges away from it.
      fs.utimesSync(temp, new Date(), new Date());
      try {
        moves = await write();
      } catch (e) {
        // Cannot be overwritten (Windows, where something still maps it): a new file, as without MergeFiles.
        if (!['EBUSY', 'EPERM', 'EACCES', 'ENOENT'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        removeFolder(temp);
        temp = fs.mkdtempSync(path.join(tempFolder, ownTempPrefix()));
        dataFile = path.join(temp, 'lora-patched.bin');
        moves = await write();
      }
    } else moves = await write();
    options.files?.keep(m.modelFile, dataFile);
    const relocate = () => {
      // Every other weight stays where it is, named from the root: an external one in its data file, and an
      // inline one (a text encoder keeps its weights inside model.onnx) as external data pointing into the
      // model file itself. So the model bytes ORT gets are the graph alone (0.4 MB instead of 492 MB for
      // SD1.5's text encoder): no copy of them here, and its session was made in 0.06 s instead of 0.4-0.8 s.
      const all = new Map(moves);
      const modelLocation = path.relative(root, path.resolve(m.modelFile));
      for (const init of m.initializers) {
        const loc = init.location;
        if (!loc || all.has(init.name)) continue;
        if (loc.kind === 'external') all.set(init.name, { location: path.relative(root, loc.file), offset: loc.offset, length: loc.length });
        else if (loc.length >= POINT_INTO_MODEL_BYTES) all.set(init.name, { location: modelLocation, offset: loc.offset, length: loc.length });
      }
      return relocateInitializers(readModelOutside(m, POINT_INTO_MODEL_BYTES), all, undefined, twinsOf(m));
    };
    // The parse (m.initializers) is the same object while the model file is unchanged (GraphCache).
    const bytes = options.files ? options.files.relocatedModel(m.modelFile, m.initializers, JSON.stringify([...moves]), relocate) : relocate();
    return { bytes, folder: root, dispose };
  } catch (e) {
    removeFolder(temp);
    throw e;
  }
}

/**
 * The model file's bytes, except the raw_data of inline initializers of `skipFrom` bytes and more,
 * which stay zero: relocation points those elsewhere and never reads them. The buffer is allocated
 * zeroed and those pages are never touched, so a text encoder's 492 MB of weights are neither read
 * nor held (the read took 0.3-0.5 s of a te re-merge on the dev machine).
 */
function readModelOutside(m: MergedGraph, skipFrom: number): Uint8Array {
  const size = fs.statSync(m.modelFile).size;
  const skipped = m.initializers
    .map((i) => i.location)
    .filter((loc) => loc?.kind === 'inline' && loc.length >= skipFrom)
    .map((loc) => [loc!.offset, loc!.offset + loc!.length])
    .sort((a, b) => a[0] - b[0]);
  const model = new Uint8Array(size);
  const fd = fs.openSync(m.modelFile, 'r');
  try {
    let at = 0;
    for (const [from, to] of [...skipped, [size, size]]) {
      for (let pos = at; pos < from; ) {
        const n = fs.readSync(fd, model, pos, from - pos, pos);
        if (n === 0) throw new Error(`${m.modelFile} ended at byte ${pos} of ${size}`);
        pos += n;
      }
      at = Math.max(at, to);
    }
  } finally {
    fs.closeSync(fd);
  }
  return model;
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
  const bytes = relocateInitializers(
    model,
    moves,
    (part, offset) => {
      const name = placeholders.get(part);
      if (name !== undefined) offsets.set(name, offset);
    },
    twinsOf(m),
  );
  await m.compute((patch, data, at) => bytes.set(data, offsets.get(patch.initializer)! + at));
  return bytes;
}

/**
 * Writes a complete merged model for `sd-prompt merge`: `outModel` (the graph) with the patched
 * weights in `<name>.lora.bin` beside it; the caller copies the original external data files.
 */
export async function writeMergedModel(m: MergedGraph, outModel: string): Promise<void> {
  const dataName = `${path.basename(outModel)}.lora.bin`;
  const moves = await writePatches(m, path.join(path.dirname(outModel), dataName), dataName);
  fs.writeFileSync(outModel, relocateInitializers(new Uint8Array(fs.readFileSync(m.modelFile)), moves, undefined, twinsOf(m)));
}

/** The patched twins of de-duplicated weights, each with the initializer it shared (relocateInitializers separates them). */
function twinsOf(m: MergedGraph): Map<string, string> {
  return new Map(m.patches.flatMap((p) => (p.copyOf !== undefined ? [[p.initializer, p.copyOf] as const] : [])));
}

/**
 * Computes the patched weights into `file`, each at a page-aligned offset, and says where each went.
 * With 'r+' the file is overwritten in place and cut to the new length.
 */
async function writePatches(m: MergedGraph, file: string, location: string, flags: 'w' | 'r+' = 'w'): Promise<Map<string, InitializerSlot>> {
  const moves = new Map<string, InitializerSlot>();
  const handle = await fs.promises.open(file, flags);
  let end = 0;
  let offset = 0;
  try {
    await m.compute(async (patch: PatchedWeight, bytes, at) => {
      if (at === 0) {
        offset = Math.ceil(end / 4096) * 4096;
        end = offset + patch.length;
        moves.set(patch.initializer, { location, offset, length: patch.length });
      }
      const start = offset + at;
      for (let written = 0; written < bytes.length; ) {
        written += (await handle.write(bytes, written, bytes.length - written, start + written)).bytesWritten;
      }
    });
    if (flags === 'r+') await handle.truncate(end);
  } finally {
    await handle.close();
  }
  return moves;
}
