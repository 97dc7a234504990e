import { BackendError, BackendProgress, BackendRenderRequest, BackendResult, RenderBackend, RenderCallbacks, ServerConnection, ServerLora } from './backend';
import { Generation, readGeneration } from './generation';
import { decodeBase64Image, withParameters } from './pngParameters';
import { DEFAULT_IDLE_TIMEOUT_MS, HttpAnswer, httpRequest, parseJson, serverUrl } from './serverHttp';

/** `GET /sdapi/v1/sd-models` (modules/api/models.py SDModelItem). */
interface SdModelItem {
  title: string;
  model_name: string;
  hash?: string | null;
  sha256?: string | null;
  filename?: string;
}

/** `GET /sdapi/v1/progress` (ProgressResponse). */
interface ProgressResponse {
  progress: number;
  state: { sampling_step?: number; sampling_steps?: number; job_count?: number; job_no?: number; interrupted?: boolean };
  current_image?: string | null;
}

/** `POST /sdapi/v1/txt2img` (TextToImageResponse): `info` is a JSON string. */
interface TextToImageResponse {
  images?: string[] | null;
  info?: string;
}

/**
 * AUTOMATIC1111 / Forge started with `--api`: the prompt goes as written (the webui parses it),
 * with the file's generation data in the payload's fields, `override_settings`, and `infotext`
 * (1.8+: the webui reads what no field sets, e.g. Hires fix, from it; older servers ignore it).
 */
export class A1111Backend implements RenderBackend {
  readonly kind = 'a1111' as const;
  constructor(private readonly conn: ServerConnection) {
    serverUrl(conn);
  }

  async listLoras(signal?: AbortSignal): Promise<ServerLora[]> {
    const answer = await httpRequest(this.conn, 'GET', '/sdapi/v1/loras', { signal, what: 'the LoRA list (/sdapi/v1/loras)', retry: true });
    this.check(answer, 'the LoRA list (/sdapi/v1/loras)');
    const list = parseJson<{ name: string; alias?: string; path?: string }[]>(answer, this.conn, '/sdapi/v1/loras');
    return list.map((l) => ({ name: l.name, alias: l.alias, path: l.path }));
  }

  async render(request: BackendRenderRequest, callbacks: RenderCallbacks = {}): Promise<BackendResult> {
    const gen = readGeneration(request);
    const { signal } = callbacks;
    const checkpoint = gen.model !== undefined || gen.modelHash !== undefined ? await this.findCheckpoint(gen, signal) : undefined;
    if (gen.loras.length) await this.checkLoras(gen, signal);
    const payload = txt2imgPayload(gen, checkpoint);
    const where = serverUrl(this.conn).origin;

    const posting = new AbortController();
    const onAbort = () => {
      // Interrupt first: aborting the POST alone leaves the webui rendering for nobody.
      void httpRequest(this.conn, 'POST', '/sdapi/v1/interrupt', { what: 'the interrupt', timeoutMs: 5000 }).catch(() => undefined).finally(() => posting.abort());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    // The POST is silent until the image is done, which may take many minutes (Hires fix, SDXL, a
    // queue): the render is given up only when the progress polls show nothing new for the idle time.
    const idleMs = this.conn.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const alive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        posting.abort();
      }, idleMs);
    };
    alive();
    const polling = this.pollProgress(callbacks, () => finished, alive);
    try {
      if (signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
      // Never retried: a second POST would render (and maybe save) the image twice.
      const answer = await httpRequest(this.conn, 'POST', '/sdapi/v1/txt2img', {
        json: payload,
        signal: posting.signal,
        timeoutMs: 2 ** 31 - 1,
        what: 'the render (/sdapi/v1/txt2img)',
      }).catch((e) => {
        if (signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
        if (stalled) throw new BackendError('timeout', `${where} showed no progress for ${Math.round(idleMs / 1000)} s and did not finish the render (/sdapi/v1/txt2img): gave up (the webui may still be busy)`);
        throw e;
      });
      if (signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
      this.check(answer, 'the render (/sdapi/v1/txt2img)');
      const body = parseJson<TextToImageResponse>(answer, this.conn, '/sdapi/v1/txt2img');
      const info = parseInfo(body.info);
      const images = (body.images ?? []).slice(0, gen.images);
      if (images.length === 0) throw new BackendError('protocol', `${where} finished the render but sent no image (is send_images off in a script?)`);
      const pngs = images.map((b64, i) => withParameters(decodeBase64Image(b64).bytes, info.infotexts?.[i] ?? gen.infotext, where));
      return {
        png: pngs[0].png,
        pngs: pngs.map((p) => p.png),
        infotext: pngs[0].infotext,
        backend: 'a1111',
        server: where,
        seed: typeof info.seed === 'number' ? info.seed : undefined,
        steps: typeof info.steps === 'number' ? info.steps : gen.steps,
        sampler: typeof info.sampler_name === 'string' ? info.sampler_name : gen.sampler,
        width: pngs[0].width,
        height: pngs[0].height,
        model: typeof info.sd_model_name === 'string' ? info.sd_model_name : checkpoint,
        notes: [],
      };
    } finally {
      finished = true;
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', onAbort);
      await polling;
    }
  }

  /**
   * Polls `/sdapi/v1/progress` while the POST runs, for the caller's progress and to know the render
   * is alive (`alive` on every change); a failed poll is skipped (the POST reports the fault).
   */
  private async pollProgress(callbacks: RenderCallbacks, finished: () => boolean, alive: () => void): Promise<void> {
    const every = this.conn.pollMs ?? 250;
    let last = '';
    while (!finished()) {
      await new Promise((r) => setTimeout(r, every));
      if (finished()) return;
      try {
        const answer = await httpRequest(this.conn, 'GET', `/sdapi/v1/progress?skip_current_image=${callbacks.onProgress ? 'false' : 'true'}`, { what: 'progress', timeoutMs: 10_000 });
        if (answer.status !== 200 || finished()) continue;
        const p = JSON.parse(answer.body.toString('utf8')) as ProgressResponse;
        const steps = p.state?.sampling_steps ?? 0;
        const step = p.state?.sampling_step ?? 0;
        if (steps <= 0) continue;
        const key = `${p.state.job_no ?? 0}/${step}/${steps}/${p.current_image ? p.current_image.length : 0}`;
        if (key === last) continue;
        last = key;
        alive();
        const progress: BackendProgress = { step, steps, image: p.state.job_no ?? 0 };
        if (p.current_image) progress.preview = decodeBase64Image(p.current_image);
        callbacks.onProgress?.(progress);
      } catch {
        // A poll that failed says nothing the render's own answer will not.
      }
    }
  }

  private async findCheckpoint(gen: Generation, signal?: AbortSignal): Promise<string> {
    const what = 'the checkpoint list (/sdapi/v1/sd-models)';
    const answer = await httpRequest(this.conn, 'GET', '/sdapi/v1/sd-models', { signal, what, retry: true });
    this.check(answer, what);
    const models = parseJson<SdModelItem[]>(answer, this.conn, '/sdapi/v1/sd-models');
    const found = matchCheckpoint(models, gen.model, gen.modelHash);
    if (found) return found.title;
    // A1111 would fall back to another checkpoint with only a console line: say it here instead.
    const wanted = [gen.model && `'${gen.model}'`, gen.modelHash && `hash ${gen.modelHash}`].filter(Boolean).join(', ');
    const names = models.slice(0, 8).map((m) => m.title).join('; ');
    throw new BackendError('missing-model', `${serverUrl(this.conn).origin} has no checkpoint ${wanted}${names ? ` (it has: ${names}${models.length > 8 ? '; ...' : ''})` : ' (it lists none)'}`);
  }

  private async checkLoras(gen: Generation, signal?: AbortSignal): Promise<void> {
    const known = new Set<string>();
    for (const l of await this.listLoras(signal)) {
      known.add(l.name);
      if (l.alias) known.add(l.alias);
    }
    // A1111 renders without a LoRA it lacks, with only a console line ("Networks not found"). Its lookup is a
    // dict by name or alias (networks.py available_networks / available_network_aliases): case matters there.
    const missing = gen.loras.filter((l) => !known.has(l.name)).map((l) => `'${l.name}'`);
    if (missing.length) throw new BackendError('missing-lora', `${serverUrl(this.conn).origin} has no LoRA ${missing.join(', ')} (A1111 would render without ${missing.length > 1 ? 'them' : 'it'})`);
  }

  /** A1111's error shapes: 401 (handled below), 404 without --api, 422 validation, 500 from api_middleware. */
  private check(answer: HttpAnswer, what: string): void {
    if (answer.status >= 200 && answer.status < 300) return;
    const where = serverUrl(this.conn).origin;
    if (answer.status === 404) throw new BackendError('protocol', `${where} has no ${what.replace(/^.*\((.*)\)$/, '$1')}: is it an A1111/Forge webui started with --api?`);
    let detail = '';
    try {
      const body = JSON.parse(answer.body.toString('utf8')) as { detail?: unknown; error?: string; errors?: string };
      if (Array.isArray(body.detail)) detail = body.detail.map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg}`).join('; ');
      else if (body.error) detail = `${body.error}: ${body.errors || body.detail || ''}`;
      else if (typeof body.detail === 'string') detail = body.detail;
    } catch {
      detail = answer.body.subarray(0, 200).toString('utf8');
    }
    throw new BackendError('server', `${where} failed ${what} (HTTP ${answer.status}): ${detail || 'no detail'}`);
  }
}

/** The checkpoint the file names: by its short hash first (A1111's `Model hash`), then by name. */
export function matchCheckpoint(models: SdModelItem[], name?: string, hash?: string): SdModelItem | undefined {
  if (hash) {
    const h = hash.toLowerCase();
    const byHash = models.find((m) => m.hash?.toLowerCase() === h || (h.length >= 10 && m.sha256?.toLowerCase().startsWith(h)));
    if (byHash) return byHash;
  }
  if (name) {
    const n = name.toLowerCase();
    return models.find((m) => m.model_name.toLowerCase() === n || m.title.toLowerCase() === n || m.title.toLowerCase().replace(/\s*\[[0-9a-f]+\]$/, '').replace(/\.(safetensors|ckpt)$/, '') === n);
  }
  return undefined;
}

/** The payload of `POST /sdapi/v1/txt2img` (StableDiffusionTxt2ImgProcessingAPI) for a generation. */
export function txt2imgPayload(gen: Generation, checkpoint?: string): Record<string, unknown> {
  const override: Record<string, unknown> = {};
  if (checkpoint !== undefined) override.sd_model_checkpoint = checkpoint;
  if (gen.clipSkip !== undefined) override.CLIP_stop_at_last_layers = gen.clipSkip;
  if (gen.rng !== undefined) override.randn_source = gen.rng;
  if (gen.ensd !== undefined) override.eta_noise_seed_delta = gen.ensd;
  return {
    prompt: gen.prompt,
    negative_prompt: gen.negativePrompt,
    seed: gen.seed,
    steps: gen.steps,
    cfg_scale: gen.cfgScale,
    width: gen.width,
    height: gen.height,
    sampler_name: gen.sampler,
    ...(gen.scheduleType !== undefined ? { scheduler: gen.scheduleType } : {}),
    batch_size: gen.images,
    n_iter: 1,
    override_settings: override,
    override_settings_restore_afterwards: true,
    infotext: gen.infotext,
    send_images: true,
    save_images: false,
  };
}

function parseInfo(info: string | undefined): { infotexts?: string[]; seed?: unknown; steps?: unknown; sampler_name?: unknown; sd_model_name?: unknown } {
  if (!info) return {};
  try {
    return JSON.parse(info);
  } catch {
    return {};
  }
}
