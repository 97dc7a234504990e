import { randomInt, randomUUID } from 'crypto';
import { BackendError, BackendProgress, BackendRenderRequest, BackendResult, RenderBackend, RenderCallbacks, ServerConnection, ServerLora } from './backend';
import { comfyGraph, SAVE_NODE } from './comfyGraph';
import { Generation, infotextWithSeed, readGeneration } from './generation';
import { withParameters } from './pngParameters';
import { followSocket, openSocket } from './serverSocket';
import { HttpAnswer, httpRequest, parseJson, serverUrl } from './serverHttp';
import { ListCache } from './listCache';

export const COMFY_WEIGHTING_NOTE = "ComfyUI weighs (x:1.2) differently from A1111: it pushes the token's embedding away from the empty prompt's by the weight, where A1111 multiplies it and then restores the mean, so the same weights change the image differently";
const COMFY_NOISE_NOTE = "ComfyUI draws the initial noise on the CPU: the same seed gives a different image than A1111's default GPU noise";

interface ImageRef {
  filename: string;
  subfolder: string;
  type: string;
}

/**
 * ComfyUI: the `.prompt` becomes an API-format graph (comfyGraph), queued with `POST /prompt`
 * under this client's id; `/ws?clientId=` reports progress, binary preview frames, the saved
 * images and errors; the images come from `/view`; cancel is `POST /interrupt` (plus a queue
 * delete, for a render still waiting its turn).
 */
export class ComfyBackend implements RenderBackend {
  readonly kind = 'comfyui' as const;
  private readonly lists = new ListCache<string>();
  constructor(private readonly conn: ServerConnection) {
    serverUrl(conn);
  }

  async listLoras(signal?: AbortSignal): Promise<ServerLora[]> {
    return (await this.choices('LoraLoader', 'lora_name', signal)).map((file) => ({ name: stem(file), path: file }));
  }

  async render(request: BackendRenderRequest, callbacks: RenderCallbacks = {}): Promise<BackendResult> {
    const gen = readGeneration(request);
    const { signal } = callbacks;
    const where = serverUrl(this.conn).origin;
    const notes = [COMFY_WEIGHTING_NOTE, COMFY_NOISE_NOTE];
    const ckpt = await this.findCheckpoint(gen, notes, signal);
    const loraFiles = await this.findLoras(gen, signal);
    // ComfyUI takes no -1: pick the seed here, as A1111 does, so the infotext names it.
    const seed = gen.seed === -1 ? randomInt(0, 2 ** 32) : gen.seed;
    const graph = comfyGraph(gen, seed, ckpt, loraFiles);
    const clientId = randomUUID();
    // The socket opens first: events of a prompt queued before it would be lost.
    const socket = await openSocket(this.conn, `/ws?clientId=${clientId}`, 'the progress socket (/ws)');
    let promptId: string;
    try {
      if (signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
      // Never retried: a second POST would queue the render twice.
      const answer = await httpRequest(this.conn, 'POST', '/prompt', { json: { prompt: graph, client_id: clientId }, signal, what: 'queueing the render (/prompt)' });
      promptId = this.queued(answer);
    } catch (e) {
      socket.terminate();
      throw e;
    }
    const images: ImageRef[] = [];
    let steps = gen.steps;
    let step = 0;
    const onProgress = callbacks.onProgress;
    await followSocket<true>(
      socket,
      this.conn,
      'the render',
      (data, binary) => {
        if (binary) {
          const preview = previewFrame(data);
          if (preview && onProgress) onProgress({ step, steps, preview });
          return undefined;
        }
        const message = JSON.parse(data.toString('utf8')) as { type: string; data: Record<string, unknown> };
        const d = message.data ?? {};
        if (d.prompt_id !== undefined && d.prompt_id !== promptId) return undefined;
        switch (message.type) {
          case 'progress':
            step = Number(d.value);
            steps = Number(d.max);
            onProgress?.({ step, steps } satisfies BackendProgress);
            return undefined;
          case 'executed':
            if (String(d.node) === SAVE_NODE) images.push(...(((d.output as { images?: ImageRef[] })?.images ?? []) as ImageRef[]));
            return undefined;
          case 'execution_success':
            return true;
          case 'executing':
            return d.node === null && d.prompt_id === promptId ? true : undefined;
          case 'execution_error':
            throw new BackendError('server', `${where} failed the render in ${d.node_type} (node ${d.node_id}): ${d.exception_type ? `${d.exception_type}: ` : ''}${d.exception_message}`);
          case 'execution_interrupted':
            throw new BackendError('cancelled', signal?.aborted ? 'render cancelled' : `${where} interrupted the render (someone pressed Cancel on the server?)`);
          default:
            return undefined;
        }
      },
      {
        signal,
        onCancel: async () => {
          await httpRequest(this.conn, 'POST', '/queue', { json: { delete: [promptId] }, what: 'removing the render from the queue', timeoutMs: 5000 }).catch(() => undefined);
          await httpRequest(this.conn, 'POST', '/interrupt', { json: { prompt_id: promptId }, what: 'the interrupt', timeoutMs: 5000 });
        },
      },
    );
    // A ComfyUI that reran nothing (the same graph again) may send no `executed` for the cached
    // SaveImage: its history has the images.
    if (images.length === 0) images.push(...(await this.historyImages(promptId, signal)));
    if (images.length === 0) throw new BackendError('protocol', `${where} finished the render but saved no image`);
    const infotext = infotextWithSeed(gen, seed);
    const pngs = [];
    for (const image of images) {
      const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
      if (signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
      const answer = await httpRequest(this.conn, 'GET', `/view?${query}`, { signal, what: `the image ${image.filename} (/view)`, retry: true });
      if (answer.status !== 200) throw new BackendError('server', `${where} could not give the image ${image.filename} (/view, HTTP ${answer.status})`);
      pngs.push(withParameters(answer.body, infotext, where));
    }
    return {
      png: pngs[0].png,
      pngs: pngs.map((p) => p.png),
      infotext: pngs[0].infotext,
      backend: 'comfyui',
      server: where,
      seed,
      steps: gen.steps,
      sampler: gen.sampler,
      width: pngs[0].width,
      height: pngs[0].height,
      model: ckpt,
      notes,
    };
  }

  private async historyImages(promptId: string, signal?: AbortSignal): Promise<ImageRef[]> {
    const answer = await httpRequest(this.conn, 'GET', `/history/${encodeURIComponent(promptId)}`, { signal, what: 'the render history (/history)', retry: true });
    if (answer.status !== 200) return [];
    const history = parseJson<Record<string, { outputs?: Record<string, { images?: ImageRef[] }> }>>(answer, this.conn, '/history');
    return history[promptId]?.outputs?.[SAVE_NODE]?.images ?? [];
  }

  /** `POST /prompt`'s answer: the prompt id, or the validation error with each node's errors. */
  private queued(answer: HttpAnswer): string {
    const where = serverUrl(this.conn).origin;
    if (answer.status === 200) {
      const body = parseJson<{ prompt_id?: string }>(answer, this.conn, '/prompt');
      if (typeof body.prompt_id !== 'string') throw new BackendError('protocol', `${where} queued the render but sent no prompt_id`);
      return body.prompt_id;
    }
    if (answer.status === 404) throw new BackendError('protocol', `${where} has no /prompt: is it a ComfyUI server?`);
    const body = parseJson<{ error?: { type?: string; message?: string; details?: string }; node_errors?: Record<string, { class_type?: string; errors?: { type?: string; message?: string; details?: string }[] }> }>(answer, this.conn, '/prompt');
    const nodeErrors = Object.entries(body.node_errors ?? {}).flatMap(([id, n]) => (n.errors ?? []).map((e) => `${n.class_type ?? 'node'} ${id}: ${e.message}${e.details ? ` (${e.details})` : ''}`));
    const missingModel = Object.values(body.node_errors ?? {}).some((n) => n.class_type === 'CheckpointLoaderSimple' && n.errors?.some((e) => e.type === 'value_not_in_list'));
    const missingLora = Object.values(body.node_errors ?? {}).some((n) => n.class_type === 'LoraLoader' && n.errors?.some((e) => e.type === 'value_not_in_list'));
    const summary = `${body.error?.message ?? `HTTP ${answer.status}`}${nodeErrors.length ? `: ${nodeErrors.join('; ')}` : body.error?.details ? `: ${body.error.details}` : ''}`;
    throw new BackendError(missingModel ? 'missing-model' : missingLora ? 'missing-lora' : 'server', `${where} refused the render: ${summary}`);
  }

  /** The values a node's combo input accepts (`GET /object_info/NODE`), in either shape ComfyUI has used. */
  private async choices(node: string, input: string, signal?: AbortSignal): Promise<string[]> {
    const what = `the ${node} choices (/object_info/${node})`;
    const answer = await httpRequest(this.conn, 'GET', `/object_info/${node}`, { signal, what, retry: true });
    if (answer.status !== 200) throw new BackendError(answer.status === 404 ? 'protocol' : 'server', `${serverUrl(this.conn).origin} could not give ${what} (HTTP ${answer.status}): is it a ComfyUI server?`);
    const info = parseJson<Record<string, { input?: { required?: Record<string, unknown[]> } }>>(answer, this.conn, `/object_info/${node}`);
    const spec = info[node]?.input?.required?.[input];
    if (!Array.isArray(spec)) throw new BackendError('protocol', `${serverUrl(this.conn).origin}: ${node} has no '${input}' input`);
    if (Array.isArray(spec[0])) return spec[0] as string[];
    const options = (spec[1] as { options?: string[] } | undefined)?.options;
    return Array.isArray(options) ? options : [];
  }

  private async findCheckpoint(gen: Generation, notes: string[], signal?: AbortSignal): Promise<string> {
    const wanted = gen.model?.toLowerCase();
    const { found, list } = await this.lists.find(
      'ckpt',
      () => this.choices('CheckpointLoaderSimple', 'ckpt_name', signal),
      (l) => (wanted === undefined ? l[0] : l.find((f) => stem(f).toLowerCase() === wanted || f.toLowerCase() === wanted)),
    );
    const where = serverUrl(this.conn).origin;
    if (list.length === 0) throw new BackendError('missing-model', `${where} has no checkpoint at all (models/checkpoints is empty)`);
    if (gen.model === undefined) {
      notes.push(`the file names no Model: rendered with the server's first checkpoint, ${list[0]}`);
      return list[0];
    }
    if (!found) throw new BackendError('missing-model', `${where} has no checkpoint '${gen.model}' (it has: ${list.slice(0, 8).join('; ')}${list.length > 8 ? '; ...' : ''})`);
    return found;
  }

  private async findLoras(gen: Generation, signal?: AbortSignal): Promise<string[]> {
    if (gen.loras.length === 0) return [];
    const lookup = (files: string[]) => gen.loras.map((l) => files.find((file) => stem(file).toLowerCase() === l.name.toLowerCase() || file.toLowerCase() === l.name.toLowerCase()));
    const { list } = await this.lists.find('lora', () => this.choices('LoraLoader', 'lora_name', signal), (files) => (lookup(files).every((f) => f !== undefined) ? true : undefined));
    const missing: string[] = [];
    const found = lookup(list).map((f, i) => {
      if (!f) missing.push(`'${gen.loras[i].name}'`);
      return f ?? '';
    });
    if (missing.length) throw new BackendError('missing-lora', `${serverUrl(this.conn).origin} has no LoRA ${missing.join(', ')}`);
    return found;
  }
}

/** `sub/dir/name.safetensors` → `name`: A1111's tags name a LoRA by its file stem. */
function stem(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
}

/** ComfyUI's binary frame: event 1 (PREVIEW_IMAGE), then image type 1 (JPEG) or 2 (PNG), then the image. */
function previewFrame(data: Buffer): BackendProgress['preview'] | undefined {
  if (data.length < 8 || data.readUInt32BE(0) !== 1) return undefined;
  const format = data.readUInt32BE(4);
  const bytes = data.subarray(8);
  return { mime: format === 2 ? 'image/png' : 'image/jpeg', bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
