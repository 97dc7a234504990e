/**
 * The render backends' own cost (`node out/bench/backends.bench.js`): a whole render through each
 * client against its in-process test server, beside a bare exchange of the same protocol with the
 * same server in the same run (the server's time and the transport), so the difference is what the
 * client adds: reading the .prompt, building the request, following progress, decoding the image
 * and writing the infotext into it. Target: under 20 ms per render. Printed, never asserted.
 *   BACKENDS_BENCH_RUNS  renders per backend (default 20)
 *   BACKENDS_BENCH_SIZE  image side in pixels (default 512)
 */
import { randomUUID } from 'crypto';
import WebSocket from 'ws';
import { A1111Backend } from '../server/src/render/backends/a1111';
import { ComfyBackend } from '../server/src/render/backends/comfyui';
import { comfyGraph } from '../server/src/render/backends/comfyGraph';
import { readGeneration } from '../server/src/render/backends/generation';
import { SwarmBackend } from '../server/src/render/backends/swarmui';
import { startA1111Server } from '../test/unit/backends/servers/a1111Server';
import { startComfyServer } from '../test/unit/backends/servers/comfyServer';
import { startSwarmServer } from '../test/unit/backends/servers/swarmServer';

const runs = Number(process.env.BACKENDS_BENCH_RUNS ?? 20);
const size = Number(process.env.BACKENDS_BENCH_SIZE ?? 512);
const promptText = `a castle on a hill, (golden hour:1.2), highly detailed <lora:add_detail:0.6>\nNegative prompt: blurry, lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: ${size}x${size}, Model: v1-5-pruned-emaonly`;

async function timed(label: string, client: () => Promise<unknown>, bare: () => Promise<unknown>): Promise<void> {
  await client();
  await bare();
  let clientMs = 0;
  let bareMs = 0;
  // Interleaved, so a busy moment on the machine lands on both.
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await client();
    clientMs += performance.now() - t;
    t = performance.now();
    await bare();
    bareMs += performance.now() - t;
  }
  const c = clientMs / runs;
  const b = bareMs / runs;
  console.log(`${label.padEnd(9)} client ${c.toFixed(2)} ms/render, bare exchange ${b.toFixed(2)} ms, client overhead ${(c - b).toFixed(2)} ms (target < 20)`);
}

async function main() {
  console.log(`${runs} renders per backend, ${size}x${size}, 20 steps, against in-process test servers`);
  const a1111 = await startA1111Server({ fullSize: true });
  try {
    const backend = new A1111Backend({ url: a1111.url });
    const payload = { prompt: 'a castle', negative_prompt: '', seed: 42, steps: 20, cfg_scale: 7, width: size, height: size, sampler_name: 'Euler a', batch_size: 1 };
    await timed(
      'a1111',
      () => backend.render({ promptText }),
      async () => {
        const res = await fetch(`${a1111.url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
        const body = (await res.json()) as { images: string[] };
        return body.images.length;
      },
    );
  } finally {
    await a1111.close();
  }

  const comfy = await startComfyServer();
  try {
    const backend = new ComfyBackend({ url: comfy.url });
    const graph = comfyGraph(readGeneration({ promptText }), 42, 'v1-5-pruned-emaonly.safetensors', ['add_detail.safetensors']);
    await timed(
      'comfyui',
      () => backend.render({ promptText }, { onProgress: () => undefined }),
      async () => {
        const clientId = randomUUID();
        const ws = new WebSocket(`${comfy.url.replace('http', 'ws')}/ws?clientId=${clientId}`);
        await new Promise((r) => ws.once('open', r));
        const done = new Promise<void>((r) => ws.on('message', (d: Buffer, binary: boolean) => !binary && JSON.parse(d.toString()).type === 'execution_success' && r()));
        await fetch(`${comfy.url}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: graph, client_id: clientId }) });
        await done;
        ws.close();
        await (await fetch(`${comfy.url}/view?filename=sd-prompt_00010_.png&subfolder=&type=output`)).arrayBuffer();
      },
    );
  } finally {
    await comfy.close();
  }

  const swarm = await startSwarmServer();
  try {
    const backend = new SwarmBackend({ url: swarm.url });
    const swarmPrompt = promptText.replace('v1-5-pruned-emaonly', 'dreamshaper_8');
    await timed(
      'swarmui',
      () => backend.render({ promptText: swarmPrompt }, { onProgress: () => undefined }),
      async () => {
        const ws = new WebSocket(`${swarm.url.replace('http', 'ws')}/API/GenerateText2ImageWS`);
        await new Promise((r) => ws.once('open', r));
        const closed = new Promise((r) => ws.once('close', r));
        ws.send(JSON.stringify({ session_id: 'SESSION1', images: 1, prompt: 'a castle', steps: 20, seed: 42, width: size, height: size }));
        await closed;
        await (await fetch(`${swarm.url}/View/local/raw/2026-12-06/42-0.png`)).arrayBuffer();
      },
    );
  } finally {
    await swarm.close();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
