import { BackendError, BackendRenderRequest, BackendResult, RenderBackend, RenderCallbacks, ServerConnection, ServerLora } from './backend';
import { comfySampler } from './comfySamplers';
import { Generation, infotextWithSeed, readGeneration } from './generation';
import { decodeBase64Image, withParameters } from './pngParameters';
import { followSocket, openSocket } from './serverSocket';
import { httpRequest, parseJson, serverUrl } from './serverHttp';
import { ListCache } from './listCache';

export const SWARM_WEIGHTING_NOTE = "SwarmUI renders on ComfyUI backends, which weigh (x:1.2) differently from A1111: the same weights change the image differently";

/** One message of `/API/GenerateText2ImageWS` (docs/APIRoutes/T2IAPI.md). */
interface SwarmMessage {
  gen_progress?: { batch_index?: string; overall_percent?: number; current_percent?: number; preview?: string };
  image?: string | { image: string; batch_index?: string; metadata?: string };
  batch_index?: string;
  metadata?: string;
  discard_indices?: number[];
  error?: string;
  error_id?: string;
  socket_intention?: string;
  status?: unknown;
}

/**
 * SwarmUI: a session from `POST /API/GetNewSession`, then one `/API/GenerateText2ImageWS` socket
 * per render with the generation as Swarm's parameters. A batch goes as `images`, so Swarm spreads
 * the images over its backends; progress and previews come from `gen_progress`, the images as
 * `View/...` paths or data URLs. Cancel is `POST /API/InterruptAll` for this session only.
 */
export class SwarmBackend implements RenderBackend {
  readonly kind = 'swarmui' as const;
  private session: string | undefined;
  private readonly lists = new ListCache<string>();
  constructor(private readonly conn: ServerConnection) {
    serverUrl(conn);
  }

  async listLoras(signal?: AbortSignal): Promise<ServerLora[]> {
    return (await this.models('LoRA', signal)).map((file) => ({ name: stem(file), path: file }));
  }

  async render(request: BackendRenderRequest, callbacks: RenderCallbacks = {}): Promise<BackendResult> {
    const gen = readGeneration(request);
    const { signal } = callbacks;
    const where = serverUrl(this.conn).origin;
    const model = gen.model !== undefined ? await this.findModel(gen, signal) : undefined;
    const loraNames = gen.loras.length ? await this.findLoras(gen, signal) : [];
    const sessionId = await this.sessionId(signal);
    const params = swarmParameters(gen, sessionId, model, loraNames);
    const socket = await openSocket(this.conn, '/API/GenerateText2ImageWS', 'the render socket (/API/GenerateText2ImageWS)');
    // Sent once, never again on a fault: a second send would render the batch twice.
    socket.send(JSON.stringify(params));
    const found = new Map<number, { image: string; metadata?: string }>();
    const discarded = new Set<number>();
    const done = () => (found.size >= gen.images ? true : undefined);
    await followSocket<true>(
      socket,
      this.conn,
      'the render',
      (data) => {
        const m = JSON.parse(data.toString('utf8')) as SwarmMessage;
        if (m.error !== undefined) {
          const kind = /model/i.test(m.error) && !/lora/i.test(m.error) ? 'missing-model' : /lora/i.test(m.error) ? 'missing-lora' : m.error_id === 'invalid_session_id' ? 'auth' : 'server';
          throw new BackendError(kind, `${where} refused the render: ${m.error}`);
        }
        if (m.gen_progress) {
          const p = m.gen_progress;
          const step = Math.round((p.current_percent ?? 0) * gen.steps);
          callbacks.onProgress?.({ step, steps: gen.steps, image: Number(p.batch_index ?? 0), ...(p.preview ? { preview: decodeBase64Image(p.preview) } : {}) });
        }
        if (m.image !== undefined) {
          const image = typeof m.image === 'string' ? { image: m.image, batch_index: m.batch_index, metadata: m.metadata } : m.image;
          found.set(Number(image.batch_index ?? found.size), { image: image.image, metadata: image.metadata });
        }
        for (const i of m.discard_indices ?? []) discarded.add(i);
        return m.socket_intention === 'close' ? true : done();
      },
      {
        signal,
        onCancel: async () => {
          await httpRequest(this.conn, 'POST', '/API/InterruptAll', { json: { session_id: sessionId, other_sessions: false }, what: 'the interrupt', timeoutMs: 5000 });
        },
        // Swarm closes the socket when the batch is done: the end, when every image came.
        onClose: () => (found.size > 0 && found.size >= gen.images ? true : undefined),
      },
    );
    const order = [...found.keys()].filter((i) => !discarded.has(i)).sort((a, b) => a - b);
    if (order.length === 0) throw new BackendError('protocol', `${where} finished the render but sent no image`);
    const pngs = [];
    for (const i of order) {
      const { image, metadata } = found.get(i)!;
      const bytes = image.startsWith('data:') ? decodeBase64Image(image).bytes : await this.fetchImage(image, signal);
      pngs.push(withParameters(bytes, infotextWithSeed(gen, seedOf(metadata) ?? gen.seed), where));
    }
    return {
      png: pngs[0].png,
      pngs: pngs.map((p) => p.png),
      infotext: pngs[0].infotext,
      backend: 'swarmui',
      server: where,
      seed: seedOf(found.get(order[0])!.metadata) ?? (gen.seed === -1 ? undefined : gen.seed),
      steps: gen.steps,
      sampler: gen.sampler,
      width: pngs[0].width,
      height: pngs[0].height,
      model,
      notes: [SWARM_WEIGHTING_NOTE],
    };
  }

  /** One session per backend object; GetNewSession changes nothing, so it is retried after a dropped connection. */
  private async sessionId(signal?: AbortSignal): Promise<string> {
    if (this.session) return this.session;
    const answer = await httpRequest(this.conn, 'POST', '/API/GetNewSession', { json: {}, signal, what: 'a session (/API/GetNewSession)', retry: true });
    if (answer.status === 404) throw new BackendError('protocol', `${serverUrl(this.conn).origin} has no /API/GetNewSession: is it a SwarmUI server?`);
    const body = parseJson<{ session_id?: string; error?: string }>(answer, this.conn, '/API/GetNewSession');
    if (body.error || typeof body.session_id !== 'string') throw new BackendError('auth', `${serverUrl(this.conn).origin} gave no session: ${body.error ?? 'no session_id'}`);
    this.session = body.session_id;
    return this.session;
  }

  private async models(subtype: 'Stable-Diffusion' | 'LoRA', signal?: AbortSignal): Promise<string[]> {
    const sessionId = await this.sessionId(signal);
    const what = `the ${subtype} model list (/API/ListModels)`;
    const answer = await httpRequest(this.conn, 'POST', '/API/ListModels', { json: { session_id: sessionId, path: '', depth: 8, subtype }, signal, what, retry: true });
    const body = parseJson<{ files?: { name: string }[]; error?: string }>(answer, this.conn, '/API/ListModels');
    if (answer.status !== 200 || body.error) throw new BackendError('server', `${serverUrl(this.conn).origin} could not give ${what}: ${body.error ?? `HTTP ${answer.status}`}`);
    return (body.files ?? []).map((f) => f.name);
  }

  private async findModel(gen: Generation, signal?: AbortSignal): Promise<string> {
    const wanted = gen.model!.toLowerCase();
    const { found, list: files } = await this.lists.find('models', () => this.models('Stable-Diffusion', signal), (l) => l.find((f) => stem(f).toLowerCase() === wanted || withoutExtension(f).toLowerCase() === wanted));
    if (!found) throw new BackendError('missing-model', `${serverUrl(this.conn).origin} has no model '${gen.model}' (it has: ${files.slice(0, 8).join('; ')}${files.length > 8 ? '; ...' : ''})`);
    return withoutExtension(found);
  }

  private async findLoras(gen: Generation, signal?: AbortSignal): Promise<string[]> {
    const lookup = (files: string[]) => gen.loras.map((l) => files.find((file) => stem(file).toLowerCase() === l.name.toLowerCase()));
    const { list } = await this.lists.find('loras', () => this.models('LoRA', signal), (files) => (lookup(files).every((f) => f !== undefined) ? true : undefined));
    const missing: string[] = [];
    const names = lookup(list).map((f, i) => {
      if (!f) missing.push(`'${gen.loras[i].name}'`);
      return f ? withoutExtension(f) : '';
    });
    if (missing.length) throw new BackendError('missing-lora', `${serverUrl(this.conn).origin} has no LoRA ${missing.join(', ')}`);
    return names;
  }

  private async fetchImage(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const answer = await httpRequest(this.conn, 'GET', path, { signal, what: `the image ${path}`, retry: true });
    if (answer.status !== 200) throw new BackendError('server', `${serverUrl(this.conn).origin} could not give the image ${path} (HTTP ${answer.status})`);
    return answer.body;
  }
}

/** The socket request: Swarm's T2I parameter ids (ListT2IParams), all on the root of the map. */
export function swarmParameters(gen: Generation, sessionId: string, model: string | undefined, loras: string[]): Record<string, unknown> {
  const { sampler_name, scheduler } = comfySampler(gen.sampler, gen.scheduleType);
  return {
    session_id: sessionId,
    images: gen.images,
    prompt: gen.promptWithoutTags,
    negativeprompt: gen.negativePrompt,
    ...(model !== undefined ? { model } : {}),
    seed: gen.seed,
    steps: gen.steps,
    cfgscale: gen.cfgScale,
    width: gen.width,
    height: gen.height,
    sampler: sampler_name,
    scheduler,
    ...(gen.clipSkip !== undefined && gen.clipSkip > 1 ? { clipstopatlayer: -gen.clipSkip } : {}),
    // Comma-separated, as Swarm's own UI sends its list parameters (names hold no commas in Swarm).
    ...(loras.length ? { loras: loras.join(','), loraweights: gen.loras.map((l) => l.unet).join(','), loratencweights: gen.loras.map((l) => l.te).join(',') } : {}),
  };
}

function seedOf(metadata: string | undefined): number | undefined {
  if (!metadata) return undefined;
  try {
    const seed = (JSON.parse(metadata) as { sui_image_params?: { seed?: unknown } }).sui_image_params?.seed;
    return typeof seed === 'number' ? seed : undefined;
  } catch {
    return undefined;
  }
}

function withoutExtension(file: string): string {
  return file.replace(/\.(safetensors|ckpt|pt|pth|sft|gguf)$/i, '');
}

function stem(file: string): string {
  return withoutExtension(file.replace(/^.*[\\/]/, ''));
}
