// A server's render as Render Preview keeps it: the record the panel, the status bar and the history read,
// and the one message (with the action that helps) for each fault, from real exchanges with the test servers.
import * as assert from 'assert';
import * as net from 'net';
import { backendFault } from '../../../client/src/backends/backendFault';
import { backendRecordFields, seedFromInfotext } from '../../../client/src/backends/backendRecord';
import { BackendError, createBackend } from '../../../server/src/render/api';
import { A1111Server, startA1111Server } from '../backends/servers/a1111Server';
import { ComfyServer, startComfyServer } from '../backends/servers/comfyServer';

/** A port nothing listens on: one the system gave a server that is closed again. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BackendError, `not a BackendError: ${e}`);
    return e;
  }
  throw new Error('the render did not fail');
}

describe('client: a backend render as a record, its faults as messages', () => {
  let a1111: A1111Server | undefined;
  let comfy: ComfyServer | undefined;
  afterEach(async () => {
    await a1111?.close();
    await comfy?.close();
    a1111 = comfy = undefined;
  });

  it('an A1111 render: the backend as the device, the server, its checkpoint, the variant, no local timings', async () => {
    a1111 = await startA1111Server();
    const result = await createBackend('a1111', { url: a1111.url, pollMs: 1 }).render({ promptText: 'a red ball\nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 512x512' });
    const fields = backendRecordFields(result, 1234.4, 'variant for seed 7: red');
    assert.deepStrictEqual(fields, {
      infotext: 'a red ball\nNegative prompt: \nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 512x512',
      seed: 7,
      steps: 4,
      sampler: 'Euler a',
      width: 8,
      height: 8,
      device: 'a1111',
      attempts: [],
      timings: { load: 0, encode: 0, denoise: 0, decode: 0 },
      loras: [],
      skipped: [],
      notes: [],
      backend: { kind: 'a1111', server: new URL(a1111.url).origin, model: 'v1-5-pruned-emaonly', elapsedMs: 1234 },
      variant: 'variant for seed 7: red',
    });
  });

  it("a ComfyUI render keeps the backend's note that it weighs (x:1.2) otherwise, and the seed it picked for -1", async () => {
    comfy = await startComfyServer();
    const result = await createBackend('comfyui', { url: comfy.url }).render({ promptText: 'a (cat:1.2)\nSteps: 1, Model: v1-5-pruned-emaonly' });
    const fields = backendRecordFields(result, 10);
    const picked = comfy.prompts[0].prompt['3'].inputs.seed as number;
    assert.strictEqual(fields.seed, picked);
    assert.strictEqual(fields.device, 'comfyui');
    assert.strictEqual(fields.variant, undefined);
    assert.ok(fields.notes?.some((n) => /weigh/i.test(n) && /\(x:1\.2\)|emphasis|A1111/.test(n)), JSON.stringify(fields.notes));
  });

  it("a seed the server left out is read from the infotext's parameter line", () => {
    assert.strictEqual(seedFromInfotext('a cat, Seed: 5 in text\nNegative prompt: x\nSteps: 20, Seed: 4294967295, Size: 512x512'), 4294967295);
    assert.strictEqual(seedFromInfotext('a cat\nSteps: 20, Size: 512x512'), undefined);
  });

  it('wrong credentials offer Set Credentials; a server that is down offers Open Settings; a missing LoRA offers nothing', async () => {
    a1111 = await startA1111Server({ auth: { user: 'u', password: 'right' } });
    const auth = await failure(createBackend('a1111', { url: a1111.url, user: 'u', password: 'wrong', pollMs: 1 }).render({ promptText: 'a cat\nSteps: 1, Model: dreamshaper_8' }));
    const fault = backendFault('a1111', auth);
    assert.strictEqual(fault.action, 'Set Credentials');
    assert.match(fault.message, /^Render on AUTOMATIC1111\/Forge failed: http:\/\/127\.0\.0\.1:\d+ refused the credentials \(HTTP 401\)/);

    const missing = await failure(createBackend('a1111', { url: a1111.url, user: 'u', password: 'right', pollMs: 1 }).render({ promptText: 'a cat <lora:nope:1>\nSteps: 1' }));
    assert.deepStrictEqual(backendFault('a1111', missing), { message: `Render on AUTOMATIC1111/Forge failed: ${new URL(a1111.url).origin} has no LoRA 'nope' (A1111 would render without it)` });

    const down = await failure(createBackend('a1111', { url: `http://127.0.0.1:${await closedPort()}`, pollMs: 1 }).render({ promptText: 'a cat\nSteps: 1' }));
    assert.strictEqual(down.kind, 'unreachable');
    const downFault = backendFault('a1111', down);
    assert.strictEqual(downFault.action, 'Open Settings');
    assert.match(downFault.message, /refused the connection .*is the server running, and on this port\?/);
  });
});
