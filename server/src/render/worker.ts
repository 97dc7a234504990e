import * as path from 'path';
import { parentPort } from 'worker_threads';
import { DeviceSetting } from './onnx/devices';
import { ModelFolder } from './model/modelFolder';
import { checkpointShortHash, openModel, renderGraphForm } from './model/checkpointModel';
import { vaeInfotext } from './model/vaeChoice';
import { graphKeys, loadSessions, ModelSessions, SessionReuse } from './model/sessions';
import { ParameterOverrides, renderParameters } from './parameters';
import { RenderCancelled, renderTxt2Img } from './pipeline/txt2img';
import { RenderMessage, RenderRequest, WorkerMessage } from './messages';
import { LoraSpec, prepareLoras } from './lora/prepare';
import { LoraMerger } from './merge/loraMerger';
import { normedHiddenStateCount } from './model/clipSkipOutputs';

/**
 * The render worker: `session.run` blocks its thread, so the pipeline runs here and its host (the
 * extension host, or the `sd-prompt render` process) stays responsive. Sessions are kept between renders and released after an
 * idle time, when another model or device is asked for, or on request.
 */
type Ort = typeof import('onnxruntime-node');
let ort: Ort | undefined;
let cached: { key: string; model: string; device: DeviceSetting; sessions: ModelSessions; loadMs: number } | undefined;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const cancelled = new Map<number, AbortController>();
/**
 * Kept across renders (LoraMerger with `remerge`): the merge's product sessions and working memory, every
 * LoRA module's delta so a weight change only re-adds them, the parsed graphs so it does not read the
 * models again, and each graph's temporary weight file so it is overwritten instead of written anew
 * (sessionsFor releases a graph's sessions before it merges that graph again, as that requires).
 */
let merger: LoraMerger | undefined;

/**
 * An AbortSignal-like view of the host's shared cancel flag: read synchronously before each step,
 * so a cancel takes effect at the next step even while this thread is busy running the model.
 */
function sharedSignal(flag: Int32Array, controller: AbortController): AbortSignal {
  return new Proxy(controller.signal, {
    get: (target, prop) => (prop === 'aborted' ? target.aborted || Atomics.load(flag, 0) === 1 : Reflect.get(target, prop, target)),
  });
}
let queue: Promise<void> = Promise.resolve();

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

async function release(): Promise<void> {
  clearTimeout(idleTimer);
  const old = cached;
  cached = undefined;
  await old?.sessions.release();
}

/** Sessions and everything kept for merging: what an idle worker gives back. */
async function releaseAll(): Promise<void> {
  await release();
  await merger?.release();
}

/**
 * Whether kept sessions serve a render's clip skip: clip skip 1 needs nothing more, and a text encoder that has the
 * clip-skip outputs (or cannot have them: the render says why) serves any. Only a folder's text encoder loaded for
 * clip skip 1 lacks them: adding them reads the whole graph into memory, which renders with clip skip 1 are spared.
 */
function servesClipSkip(sessions: ModelSessions, clipSkip: number): boolean {
  return clipSkip <= 1 || sessions.clipSkipUnavailable !== undefined || normedHiddenStateCount(sessions.textEncoder.outputs) > 0;
}

/** Sessions for a model, device and set of LoRAs with their weights: reused while all three stay the same. */
async function sessionsFor(folder: ModelFolder, device: DeviceSetting, loras: LoraSpec[], clipSkip: number): Promise<{ sessions: ModelSessions; loadMs: number }> {
  const model = folder.root;
  const key = JSON.stringify([model, device, loras.map((l) => [l.path, l.te, l.unet, l.dyn])]);
  if (cached?.key === key && servesClipSkip(cached.sessions, clipSkip)) return { sessions: cached.sessions, loadMs: 0 };
  ort ??= require('onnxruntime-node') as Ort;
  const t0 = Date.now();
  const prepared = await prepareLoras(loras);
  // Another LoRA weight changes only the graphs it is merged into: the others keep their sessions.
  let reuse: SessionReuse | undefined;
  const previous = cached;
  cached = undefined;
  if (previous && previous.model === model && previous.device === device) {
    const keys = graphKeys(folder, prepared);
    const files = new Set([...keys].filter(([file, k]) => previous.sessions.keys.get(file) === k).map(([file]) => file));
    if (!servesClipSkip(previous.sessions, clipSkip)) files.delete(folder.textEncoder);
    // The others are released first: a UNet's old and new sessions together would double the memory.
    await previous.sessions.release(files);
    reuse = { sessions: previous.sessions, files };
  } else await previous?.sessions.release();
  // The products run where mergeDeviceFor says (WebGPU renders and CPU renders share the CPU kernel and its threads).
  merger ??= new LoraMerger(ort, device, { remerge: true });
  await merger.useDevice(device);
  try {
    const sessions = await loadSessions(folder, device, ort, prepared, merger, reuse, clipSkip > 1);
    cached = { key, model, device, sessions, loadMs: Date.now() - t0 };
    return cached;
  } catch (e) {
    await reuse?.sessions.release();
    throw e;
  }
}

async function render(id: number, request: RenderRequest, cancel: SharedArrayBuffer): Promise<void> {
  const controller = new AbortController();
  const flag = new Int32Array(cancel);
  cancelled.set(id, controller);
  clearTimeout(idleTimer);
  try {
    const overrides: ParameterOverrides = { model: request.model, ...request.overrides };
    const params = renderParameters(request.promptText, overrides, request.defaults);
    // Opened once per render: the sessions and the pipeline read the same folder.
    const folder = await openModel(request.model, { ...(request.vae !== undefined ? { vae: request.vae } : {}), form: renderGraphForm(request.device) });
    // The short hashes read the whole checkpoint (and VAE) once: they run while the sessions load, not before them.
    const hashing = folder.checkpoint ? checkpointShortHash(folder.checkpoint) : undefined;
    hashing?.catch(() => undefined);
    const vaeHashing = folder.vae ? vaeInfotext(folder.vae) : undefined;
    vaeHashing?.catch(() => undefined);
    const { sessions, loadMs } = await sessionsFor(folder, request.device, request.loras ?? [], params.clipSkip ?? 1);
    if (hashing) params.modelHash = await hashing;
    if (vaeHashing) params.vae = await vaeHashing;
    const result = await renderTxt2Img(ort!, folder, sessions, params, {
      signal: sharedSignal(flag, controller),
      previewEvery: request.previewEvery,
      onProgress: (p) => post({ type: 'progress', id, step: p.step, steps: p.steps, preview: p.preview }),
    });
    const png = result.png.buffer.slice(result.png.byteOffset, result.png.byteOffset + result.png.byteLength) as ArrayBuffer;
    post(
      {
        type: 'done',
        id,
        result: {
          png,
          infotext: result.infotext,
          device: sessions.device,
          attempts: sessions.attempts,
          seed: params.seed,
          steps: params.steps,
          sampler: params.sampler,
          width: result.width,
          height: result.height,
          timings: { load: loadMs, ...result.timings },
          loras: sessions.loras,
          notes: [...result.notes, ...folderVaeNote(folder, request.vae)],
          reused: loadMs ? sessions.reused.map((f) => path.relative(folder.root, f).split(path.sep).join('/')) : [],
        },
      },
      [png],
    );
  } catch (e) {
    post({ type: 'error', id, message: (e as Error).message, cancelled: e instanceof RenderCancelled });
  } finally {
    cancelled.delete(id);
    clearTimeout(idleTimer);
    // Through the queue like every other use of the sessions: never beside a render or another release.
    idleTimer = setTimeout(() => (queue = queue.then(releaseAll)), request.idleReleaseMs ?? 5 * 60_000);
  }
}

/** A VAE file asked for a diffusers folder, which has its own vae_decoder graph: said, not silently dropped. */
function folderVaeNote(folder: ModelFolder, vae: string | null | undefined): string[] {
  if (folder.checkpoint || !vae) return [];
  return [`VAE ${path.basename(vae)} not used: a diffusers model folder decodes with its own vae_decoder graph (a separate VAE applies to single-file checkpoints, as in A1111).`];
}

parentPort!.on('message', (m: RenderMessage) => {
  if (m.type === 'render') queue = queue.then(() => render(m.id, m.request, m.cancel));
  else if (m.type === 'cancel') cancelled.get(m.id)?.abort();
  else if (m.type === 'release') queue = queue.then(releaseAll).then(() => post({ type: 'released' }));
});
