import * as http from 'http';
import { AddressInfo } from 'net';
import { WebSocket, WebSocketServer } from 'ws';
import { tinyPng } from './a1111Server';

/**
 * A test server speaking SwarmUI's API as docs/APIRoutes (BasicAPIFeatures, T2IAPI, ModelsAPI)
 * describe it: `POST /API/GetNewSession`, `POST /API/ListModels`, `POST /API/InterruptAll`, the
 * `/API/GenerateText2ImageWS` socket (one JSON request in; `status`, `gen_progress` with a data-URL
 * `preview`, `image` results as `View/...` paths or data URLs with `sui_image_params` metadata,
 * `discard_indices`, `error`; closed when the batch is done) and `/View/...` images, which carry
 * Swarm's JSON under `parameters`. Errors come as `{error}` with HTTP 200, as Swarm sends them.
 */
export interface SwarmServerOptions {
  models?: string[];
  loras?: string[];
  /** Images as data URLs instead of `View/` paths. */
  dataUrls?: boolean;
  holdAtStep?: number;
  fault?: 'drop' | 'hang';
}

export interface SwarmServer {
  url: string;
  requests: Record<string, unknown>[];
  sessions: number;
  /** How many times /API/ListModels was asked. */
  listings: number;
  interrupts: unknown[];
  close(): Promise<void>;
}

export async function startSwarmServer(options: SwarmServerOptions = {}): Promise<SwarmServer> {
  const models = options.models ?? ['OfficialStableDiffusion/sd_xl_base_1.0.safetensors', 'dreamshaper_8.safetensors'];
  const loras = options.loras ?? ['add_detail.safetensors', 'styles/pixel_art.safetensors'];
  const requests: Record<string, unknown>[] = [];
  const interrupts: unknown[] = [];
  const state = { sessions: 0, listings: 0 };
  const held: WebSocket[] = [];
  const json = (res: http.ServerResponse, body: unknown, status = 200) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const png = (i: number, seed: number) => tinyPng(8, 8, { parameters: JSON.stringify({ sui_image_params: { seed: seed + i }, sui_extra_data: {} }) }, 60 + i);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = raw ? JSON.parse(raw) : {};
      const route = `${req.method} ${url.pathname}`;
      if (route === 'POST /API/GetNewSession') {
        state.sessions++;
        return json(res, { session_id: `SESSION${state.sessions}`, user_id: 'local', output_append_user: true, version: '0.9.5.0', server_id: 'test', permissions: [] });
      }
      if (route === 'POST /API/ListModels') {
        state.listings++;
        if (!String(body.session_id).startsWith('SESSION')) return json(res, { error_id: 'invalid_session_id', error: 'Invalid session ID. You may need to refresh the page.' });
        const files = body.subtype === 'LoRA' ? loras : models;
        return json(res, { folders: [], files: files.map((name) => ({ name, title: name, description: '' })) });
      }
      if (route === 'POST /API/InterruptAll') {
        interrupts.push(body);
        for (const ws of held.splice(0)) {
          ws.send(JSON.stringify({ status: { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 } }));
          ws.close();
        }
        return json(res, { success: true });
      }
      const view = /^\/View\/local\/raw\/2026-12-06\/(\d+)-(\d+)\.png$/.exec(url.pathname);
      if (req.method === 'GET' && view) {
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(png(Number(view[2]), Number(view[1])));
      }
      json(res, { error: 'Unknown API route' }, 404);
    });
  });
  const wss = new WebSocketServer({ server, path: '/API/GenerateText2ImageWS' });
  wss.on('connection', (ws) => {
    ws.once('message', (data: Buffer) => {
      const request = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      requests.push(request);
      const send = (m: unknown) => ws.send(JSON.stringify(m));
      if (!String(request.session_id).startsWith('SESSION')) return send({ error_id: 'invalid_session_id', error: 'Invalid session ID. You may need to refresh the page.' });
      if (request.model !== undefined && !models.some((m) => m.replace(/\.safetensors$/, '') === request.model)) return send({ error: `Invalid model value for param Model - '${request.model}' - option does not exist. Has it been deleted?` });
      const steps = Number(request.steps);
      const images = Number(request.images);
      const seed = Number(request.seed) === -1 ? 777 : Number(request.seed);
      send({ status: { waiting_gens: images, loading_models: 0, waiting_backends: 0, live_gens: images } });
      for (let i = 0; i < images; i++) {
        for (let step = 1; step <= steps; step++) {
          send({ gen_progress: { batch_index: String(i), overall_percent: step / steps, current_percent: step / steps, preview: 'data:image/png;base64,' + tinyPng(4, 4, {}, step).toString('base64') } });
          if (i === 0 && step === options.holdAtStep) {
            if (options.fault === 'drop') return ws.terminate();
            if (options.fault !== 'hang') held.push(ws);
            return;
          }
        }
        const image = options.dataUrls ? 'data:image/png;base64,' + png(i, seed).toString('base64') : `View/local/raw/2026-12-06/${seed}-${i}.png`;
        send({ image: { image, batch_index: String(i), metadata: JSON.stringify({ sui_image_params: { seed: seed + i } }) } });
      }
      ws.close();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get sessions() {
      return state.sessions;
    },
    get listings() {
      return state.listings;
    },
    interrupts,
    close: () =>
      new Promise<void>((r) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
