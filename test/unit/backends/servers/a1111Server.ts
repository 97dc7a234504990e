import { randomBytes } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { encodePng } from '../../../../server/src/render/pipeline/png';

/**
 * A test server speaking AUTOMATIC1111's `--api` as modules/api/api.py and models.py define it
 * (1.10): txt2img with its response shape (`images` base64, `info` a JSON string with `infotexts`),
 * `/progress` with `state.sampling_step/sampling_steps` and `current_image`, `/interrupt`,
 * `/sd-models`, `/loras`, HTTP Basic from `--api-auth`, and the error shapes (401 `detail`,
 * 422 validation list, 500 from api_middleware). Sampling advances one step per progress poll,
 * with `advance: 'poll'`, so a test sees every step without timing.
 */
export interface A1111ServerOptions {
  auth?: { user: string; password: string };
  models?: { title: string; model_name: string; hash: string; sha256: string; filename: string }[];
  loras?: { name: string; alias: string; path: string }[];
  /** `drop`: close the render's socket at step 1; `hang`: never answer it; `huge`: a body over any cap; `crash`: a 500. */
  fault?: 'drop' | 'hang' | 'huge' | 'crash';
  /** `poll` (default `immediate`): a render advances one step per progress poll instead of answering at once. */
  advance?: 'poll' | 'immediate';
  /** Images at the requested size with noise pixels (a real image's PNG size), for the bench; else 1/64 of it, flat. */
  fullSize?: boolean;
}

export interface A1111Server {
  url: string;
  requests: { method: string; path: string; body?: unknown; authorization?: string }[];
  interrupts: number;
  close(): Promise<void>;
}

export const DEFAULT_MODELS = [
  { title: 'v1-5-pruned-emaonly.safetensors [6ce0161689]', model_name: 'v1-5-pruned-emaonly', hash: '6ce0161689', sha256: '6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa', filename: '/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors' },
  { title: 'dreamshaper_8.safetensors [879db523c3]', model_name: 'dreamshaper_8', hash: '879db523c3', sha256: '879db523c30d3b9017143d56705015e15a2cb5628762c11d086fed9538abd7fd', filename: '/models/Stable-diffusion/dreamshaper_8.safetensors' },
];
export const DEFAULT_LORAS = [{ name: 'add_detail', alias: 'add_detail', path: '/models/Lora/add_detail.safetensors' }];

export function tinyPng(width = 8, height = 8, text: Record<string, string> = {}, shade = 128): Buffer {
  return encodePng(width, height, new Uint8Array(width * height * 3).fill(shade), text);
}

export async function startA1111Server(options: A1111ServerOptions = {}): Promise<A1111Server> {
  const models = options.models ?? DEFAULT_MODELS;
  const loras = options.loras ?? DEFAULT_LORAS;
  const requests: A1111Server['requests'] = [];
  let job: { step: number; steps: number; interrupted: boolean; finish: () => void; res: http.ServerResponse; body: Record<string, unknown> } | undefined;
  const state = { interrupts: 0 };

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const finishJob = () => {
    if (!job) return;
    const { body, res } = job;
    job = undefined;
    const w = Number(body.width ?? 512) / 64;
    const h = Number(body.height ?? 512) / 64;
    const seed = Number(body.seed) === -1 ? 1234567 : Number(body.seed);
    const infotext = `${body.prompt}\nNegative prompt: ${body.negative_prompt}\nSteps: ${body.steps}, Sampler: ${body.sampler_name}, CFG scale: ${body.cfg_scale}, Seed: ${seed}, Size: ${body.width}x${body.height}`;
    const n = Number(body.batch_size ?? 1);
    const image = (i: number, text: Record<string, string>) =>
      options.fullSize ? encodePng(Number(body.width), Number(body.height), randomBytes(Number(body.width) * Number(body.height) * 3), text) : tinyPng(w, h, text, 100 + i);
    const images = Array.from({ length: n }, (_, i) => image(i, { parameters: infotext.replace(`Seed: ${seed}`, `Seed: ${seed + i}`) }).toString('base64'));
    json(res, 200, { images, parameters: body, info: JSON.stringify({ seed, all_seeds: images.map((_, i) => seed + i), steps: body.steps, sampler_name: body.sampler_name, sd_model_name: 'v1-5-pruned-emaonly', infotexts: images.map((_, i) => infotext.replace(`Seed: ${seed}`, `Seed: ${seed + i}`)) }) });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        return json(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
      requests.push({ method: req.method ?? '', path: url.pathname, body, authorization: req.headers.authorization });
      if (options.auth) {
        const expected = 'Basic ' + Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64');
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' });
          return res.end(JSON.stringify({ detail: 'Incorrect username or password' }));
        }
      }
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /sdapi/v1/sd-models') return json(res, 200, models.map((m) => ({ ...m, config: null })));
      if (route === 'GET /sdapi/v1/loras') return json(res, 200, loras.map((l) => ({ ...l, metadata: {} })));
      if (route === 'POST /sdapi/v1/interrupt') {
        state.interrupts++;
        if (job) job.interrupted = true;
        json(res, 200, null);
        // A1111 finishes the step, then returns what it has.
        finishJob();
        return;
      }
      if (route === 'GET /sdapi/v1/progress') {
        if (!job) return json(res, 200, { progress: 0, eta_relative: 0, state: { skipped: false, interrupted: false, job: '', job_count: 0, job_timestamp: '0', job_no: 0, sampling_step: 0, sampling_steps: 0 }, current_image: null, textinfo: null });
        job.step++;
        const current = job;
        json(res, 200, {
          progress: current.step / current.steps,
          eta_relative: 1,
          state: { skipped: false, interrupted: current.interrupted, job: 'txt2img', job_count: 1, job_timestamp: '20261206030000', job_no: 0, sampling_step: current.step, sampling_steps: current.steps },
          current_image: url.searchParams.get('skip_current_image') === 'false' ? tinyPng(8, 8, {}, current.step).toString('base64') : null,
          textinfo: null,
        });
        if (current.step === 1 && options.fault === 'drop') current.res.socket?.destroy();
        else if (current.step >= current.steps && job === current) finishJob();
        return;
      }
      if (route === 'POST /sdapi/v1/txt2img') {
        if (!body) return json(res, 422, { detail: [{ loc: ['body'], msg: 'Field required', type: 'missing' }] });
        if (typeof body.steps !== 'number' || body.steps < 1) return json(res, 422, { detail: [{ loc: ['body', 'steps'], msg: 'Input should be a valid integer', type: 'int_type' }] });
        if (options.fault === 'crash') return json(res, 500, { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
        if (options.fault === 'huge') {
          res.writeHead(200, { 'content-type': 'application/json' });
          const block = Buffer.alloc(1024 * 1024, 0x41);
          let sent = 0;
          const pump = () => {
            while (sent < 64 && res.write(block)) sent++;
            if (sent < 64) res.once('drain', pump);
            else res.end();
          };
          pump();
          return;
        }
        if (options.fault === 'hang') return; // never answered: the client's idle timeout must end it
        job = { step: 0, steps: body.steps, interrupted: false, finish: finishJob, res, body };
        if (options.advance !== 'poll' && !options.fault) finishJob();
        return; // answered when the progress polls have walked every step, or on interrupt
      }
      json(res, 404, { detail: 'Not Found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get interrupts() {
      return state.interrupts;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
