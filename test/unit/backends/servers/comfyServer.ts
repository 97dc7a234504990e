import * as http from 'http';
import { AddressInfo } from 'net';
import { WebSocket, WebSocketServer } from 'ws';
import { tinyPng } from './a1111Server';

/**
 * A test server speaking ComfyUI's API as server.py and execution.py define it: `POST /prompt`
 * ({prompt, client_id} → {prompt_id, number, node_errors}, or 400 with `error` and `node_errors`
 * per node), `/ws?clientId=` (JSON `status`, `execution_start`, `executing`, `progress`,
 * `executed`, `execution_success`, `execution_error`, `execution_interrupted`; binary preview
 * frames: uint32 event 1, uint32 format 1 JPEG / 2 PNG, the image), `/view`, `/interrupt`, `/queue`,
 * and `/object_info/NODE` in the old (`[[...]]`) or new (`["COMBO", {options}]`) shape. The render
 * runs as soon as it is queued; `holdAtStep` stops it there until an interrupt (or a fault).
 */
export interface ComfyServerOptions {
  auth?: { user: string; password: string };
  checkpoints?: string[];
  loras?: string[];
  comboShape?: 'list' | 'options';
  holdAtStep?: number;
  /** At the held step: `drop` closes the socket, `error` sends execution_error, `hang` sends nothing. */
  fault?: 'drop' | 'error' | 'hang';
  /** Runs the render before answering POST /prompt, as a fast ComfyUI can (its executor is another thread). */
  eager?: boolean;
  /** As an older ComfyUI does for a graph it ran before: no `executed` for the cached SaveImage, only `/history`. */
  cachedOutput?: boolean;
}

export interface ComfyServer {
  url: string;
  prompts: { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>; client_id: string }[];
  interrupts: unknown[];
  deletes: unknown[];
  close(): Promise<void>;
}

export async function startComfyServer(options: ComfyServerOptions = {}): Promise<ComfyServer> {
  const checkpoints = options.checkpoints ?? ['v1-5-pruned-emaonly.safetensors', 'SDXL/sd_xl_base_1.0.safetensors'];
  const loras = options.loras ?? ['add_detail.safetensors', 'styles/pixel_art.safetensors'];
  const prompts: ComfyServer['prompts'] = [];
  const interrupts: unknown[] = [];
  const deletes: unknown[] = [];
  const sockets = new Map<string, WebSocket>();
  const history = new Map<string, { filename: string; subfolder: string; type: string }[]>();
  const held = new Map<string, { ws: WebSocket; finish: () => void }>();
  let counter = 0;
  const authorized = (h: string | undefined) => !options.auth || h === 'Basic ' + Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64');
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const combo = (values: string[]) => (options.comboShape === 'options' ? ['COMBO', { options: values }] : [values, {}]);
  const send = (ws: WebSocket, type: string, data: unknown) => ws.send(JSON.stringify({ type, data }));

  const run = (promptId: string, clientId: string, graph: ComfyServer['prompts'][0]['prompt']) => {
    const ws = sockets.get(clientId);
    if (!ws) return;
    const sampler = graph['3'].inputs;
    const latent = graph['5'].inputs;
    const steps = Number(sampler.steps);
    send(ws, 'execution_start', { prompt_id: promptId, timestamp: 0 });
    send(ws, 'execution_cached', { nodes: [], prompt_id: promptId, timestamp: 0 });
    for (const id of ['4', '6', '7', '5', '3']) send(ws, 'executing', { node: id, display_node: id, prompt_id: promptId });
    const finish = () => {
      send(ws, 'executing', { node: '8', display_node: '8', prompt_id: promptId });
      send(ws, 'executing', { node: '9', display_node: '9', prompt_id: promptId });
      const images = Array.from({ length: Number(latent.batch_size) }, (_, i) => ({ filename: `sd-prompt_${String(counter * 10 + i).padStart(5, '0')}_.png`, subfolder: '', type: 'output' }));
      history.set(promptId, images);
      if (!options.cachedOutput) send(ws, 'executed', { node: '9', display_node: '9', output: { images }, prompt_id: promptId });
      send(ws, 'execution_success', { prompt_id: promptId, timestamp: 0 });
      send(ws, 'executing', { node: null, prompt_id: promptId });
    };
    for (let step = 1; step <= steps; step++) {
      send(ws, 'progress', { value: step, max: steps, prompt_id: promptId, node: '3' });
      const frame = Buffer.alloc(8);
      frame.writeUInt32BE(1, 0);
      frame.writeUInt32BE(2, 4);
      ws.send(Buffer.concat([frame, tinyPng(4, 4, {}, step)]));
      if (step === options.holdAtStep) {
        if (options.fault === 'drop') return ws.terminate();
        if (options.fault === 'error')
          return send(ws, 'execution_error', { prompt_id: promptId, node_id: '3', node_type: 'KSampler', executed: ['4'], exception_message: 'CUDA out of memory. Tried to allocate 2.00 GiB', exception_type: 'torch.OutOfMemoryError', traceback: [], current_inputs: {}, current_outputs: {} });
        held.set(promptId, { ws, finish });
        return;
      }
    }
    finish();
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!authorized(req.headers.authorization)) return json(res, 401, { error: 'Unauthorized' });
      const url = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = raw ? JSON.parse(raw) : undefined;
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /object_info/CheckpointLoaderSimple') return json(res, 200, { CheckpointLoaderSimple: { input: { required: { ckpt_name: combo(checkpoints) } }, output: ['MODEL', 'CLIP', 'VAE'] } });
      if (route === 'GET /object_info/LoraLoader') return json(res, 200, { LoraLoader: { input: { required: { model: ['MODEL'], clip: ['CLIP'], lora_name: combo(loras), strength_model: ['FLOAT', {}], strength_clip: ['FLOAT', {}] } } } });
      if (route === 'POST /interrupt') {
        interrupts.push(body);
        for (const [promptId, h] of held) {
          held.delete(promptId);
          send(h.ws, 'execution_interrupted', { prompt_id: promptId, node_id: '3', node_type: 'KSampler', executed: ['4'] });
        }
        return json(res, 200, {});
      }
      if (req.method === 'GET' && url.pathname.startsWith('/history/')) {
        const id = decodeURIComponent(url.pathname.slice('/history/'.length));
        const images = history.get(id);
        return json(res, 200, images ? { [id]: { prompt: [], outputs: { '9': { images } }, status: { status_str: 'success', completed: true, messages: [] } } } : {});
      }
      if (route === 'POST /queue') {
        deletes.push(body);
        return json(res, 200, {});
      }
      if (route === 'GET /view') {
        if (!/^sd-prompt_\d{5}_\.png$/.test(url.searchParams.get('filename') ?? '') || url.searchParams.get('type') !== 'output') return json(res, 404, {});
        const shade = Number(/(\d)_\.png$/.exec(url.searchParams.get('filename')!)![1]);
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(tinyPng(8, 8, { prompt: '{"3": {}}' }, 50 + shade));
      }
      if (route === 'POST /prompt') {
        const graph = body?.prompt as ComfyServer['prompts'][0]['prompt'];
        const nodeErrors: Record<string, unknown> = {};
        for (const [id, node] of Object.entries(graph)) {
          const check = (input: string, list: string[]) => {
            const v = node.inputs[input];
            if (!list.includes(String(v))) nodeErrors[id] = { errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: `${input}: '${v}' not in [${list.map((x) => `'${x}'`).join(', ')}]`, extra_info: { input_name: input } }], dependent_outputs: ['9'], class_type: node.class_type };
          };
          if (node.class_type === 'CheckpointLoaderSimple') check('ckpt_name', checkpoints);
          if (node.class_type === 'LoraLoader') check('lora_name', loras);
        }
        if (Object.keys(nodeErrors).length) return json(res, 400, { error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} }, node_errors: nodeErrors });
        prompts.push(body);
        const promptId = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
        if (options.eager) run(promptId, body.client_id, graph);
        json(res, 200, { prompt_id: promptId, number: counter, node_errors: {} });
        if (!options.eager) setImmediate(() => run(promptId, body.client_id, graph));
        return;
      }
      json(res, 404, {});
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/ws' || !authorized(req.headers.authorization)) {
      socket.end(`HTTP/1.1 ${url.pathname !== '/ws' ? '404 Not Found' : '401 Unauthorized'}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get('clientId') ?? 'anonymous';
      sockets.set(clientId, ws);
      send(ws, 'status', { status: { exec_info: { queue_remaining: 0 } }, sid: clientId });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    prompts,
    interrupts,
    deletes,
    close: () =>
      new Promise<void>((r) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
