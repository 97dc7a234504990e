import * as assert from 'assert';
import * as net from 'net';
import { A1111Backend } from '../../../server/src/render/backends/a1111';
import { BackendError, BackendProgress } from '../../../server/src/render/backends/backend';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { A1111Server, startA1111Server } from './servers/a1111Server';

const PROMPT = [
  'a castle on a hill, (golden hour:1.2) <lora:add_detail:0.6:0.4> # a comment',
  'Negative prompt: blurry',
  'Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 42, Size: 640x512, Model hash: 879db523c3, Model: dreamshaper_8, Clip skip: 2, RNG: CPU, ENSD: 31337',
].join('\n');

async function expectError(p: Promise<unknown>, kind: BackendError['kind'], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackendError, `not a BackendError: ${e}`);
    assert.strictEqual(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('A1111 backend', () => {
  let server: A1111Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends the prompt with the file generation data mapped to txt2img fields and override_settings', async () => {
    server = await startA1111Server();
    const backend = new A1111Backend({ url: server.url, pollMs: 1 });
    const result = await backend.render({ promptText: PROMPT });
    const post = server.requests.find((r) => r.path === '/sdapi/v1/txt2img');
    assert.deepStrictEqual(post?.body, {
      prompt: 'a castle on a hill, (golden hour:1.2) <lora:add_detail:0.6:0.4>',
      negative_prompt: 'blurry',
      seed: 42,
      steps: 3,
      cfg_scale: 6.5,
      width: 640,
      height: 512,
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
      batch_size: 1,
      n_iter: 1,
      override_settings: { sd_model_checkpoint: 'dreamshaper_8.safetensors [879db523c3]', CLIP_stop_at_last_layers: 2, randn_source: 'CPU', eta_noise_seed_delta: 31337 },
      override_settings_restore_afterwards: true,
      // A1111's strip_comments leaves the comment's line break: the infotext has it too.
      infotext: PROMPT.replace(' # a comment', ' \n'),
      send_images: true,
      save_images: false,
    });
    assert.strictEqual(result.backend, 'a1111');
    assert.strictEqual(result.seed, 42);
    assert.strictEqual(result.width, 10);
    assert.strictEqual(result.height, 8);
    assert.strictEqual(readPngInfo(result.png).text.parameters, result.infotext);
    assert.match(result.infotext, /^a castle on a hill.*\nNegative prompt: blurry\nSteps: 3, Sampler: DPM\+\+ 2M, CFG scale: 6.5, Seed: 42, Size: 640x512$/);
  });

  it('reports every sampling step with the live preview from /sdapi/v1/progress', async () => {
    server = await startA1111Server({ advance: 'poll' });
    const seen: BackendProgress[] = [];
    await new A1111Backend({ url: server.url, pollMs: 1 }).render({ promptText: 'a cat\nSteps: 4, Seed: 1' }, { onProgress: (p) => seen.push(p) });
    assert.deepStrictEqual(seen.map((p) => `${p.step}/${p.steps}`), ['1/4', '2/4', '3/4', '4/4']);
    assert.ok(seen.every((p) => p.preview?.mime === 'image/png' && readPngInfo(p.preview.bytes).width === 8));
  });

  it('sends a batch as batch_size and gives back every image with its own infotext', async () => {
    server = await startA1111Server();
    const result = await new A1111Backend({ url: server.url, pollMs: 1 }).render({ promptText: 'a cat\nSteps: 2, Seed: 7', images: 3 });
    assert.strictEqual(result.pngs.length, 3);
    assert.deepStrictEqual(result.pngs.map((p) => /Seed: (\d+)/.exec(readPngInfo(p).text.parameters)?.[1]), ['7', '8', '9']);
  });

  it('sends HTTP Basic credentials, and says so when the server refuses them', async () => {
    server = await startA1111Server({ auth: { user: 'me', password: 's3cret' } });
    await new A1111Backend({ url: server.url, user: 'me', password: 's3cret', pollMs: 1 }).render({ promptText: 'a cat\nSteps: 1' });
    assert.strictEqual(server.requests[0].authorization, 'Basic ' + Buffer.from('me:s3cret').toString('base64'));
    await expectError(new A1111Backend({ url: server.url, user: 'me', password: 'wrong' }).render({ promptText: 'a cat' }), 'auth', /refused the credentials \(HTTP 401\).*--api-auth/);
  });

  it('refuses a checkpoint or a LoRA the server lacks before rendering (A1111 would silently fall back)', async () => {
    server = await startA1111Server();
    const backend = new A1111Backend({ url: server.url });
    await expectError(backend.render({ promptText: 'a cat\nSteps: 20, Model: sdxl_base, Model hash: 31e35c80fc' }), 'missing-model', /has no checkpoint 'sdxl_base', hash 31e35c80fc \(it has: v1-5-pruned-emaonly.safetensors \[6ce0161689\]; dreamshaper_8/);
    await expectError(backend.render({ promptText: 'a cat <lora:missing_one:1> <lora:add_detail:1>' }), 'missing-lora', /has no LoRA 'missing_one' \(A1111 would render without it\)/);
    // The webui looks names up case-sensitively, so 'Add_Detail' would render without the LoRA there.
    await expectError(backend.render({ promptText: 'a cat <lora:Add_Detail:1>' }), 'missing-lora', /has no LoRA 'Add_Detail'/);
    assert.ok(!server.requests.some((r) => r.path === '/sdapi/v1/txt2img'));
  });

  it('lists the server LoRAs', async () => {
    server = await startA1111Server();
    assert.deepStrictEqual(await new A1111Backend({ url: server.url }).listLoras(), [{ name: 'add_detail', alias: 'add_detail', path: '/models/Lora/add_detail.safetensors' }]);
  });

  it('says the server is down when the port refuses the connection', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    await expectError(new A1111Backend({ url: `http://127.0.0.1:${port}` }).render({ promptText: 'a cat' }), 'unreachable', new RegExp(`http://127.0.0.1:${port} refused the connection.*is the server running`));
  });

  it('passes on the webui error body of a failed render, and a dropped connection as such, posting only once', async () => {
    server = await startA1111Server({ fault: 'crash' });
    await expectError(new A1111Backend({ url: server.url }).render({ promptText: 'a cat' }), 'server', /failed the render \(\/sdapi\/v1\/txt2img\) \(HTTP 500\): OutOfMemoryError: CUDA out of memory/);
    await server.close();
    server = await startA1111Server({ fault: 'drop' });
    await expectError(new A1111Backend({ url: server.url, pollMs: 1 }).render({ promptText: 'a cat\nSteps: 5' }, { onProgress: () => undefined }), 'dropped', /closed the connection during the render.*stop or crash/);
    assert.strictEqual(server.requests.filter((r) => r.path === '/sdapi/v1/txt2img').length, 1);
  });

  it('gives up on a render that never answers, and refuses a body over the size cap', async () => {
    server = await startA1111Server({ fault: 'hang' });
    await expectError(new A1111Backend({ url: server.url, idleTimeoutMs: 300 }).render({ promptText: 'a cat' }), 'timeout', /showed no progress for 0 s and did not finish the render \(\/sdapi\/v1\/txt2img\): gave up/);
    await server.close();
    server = await startA1111Server({ fault: 'huge' });
    await expectError(new A1111Backend({ url: server.url, maxResponseBytes: 4 * 1024 * 1024 }).render({ promptText: 'a cat' }), 'too-large', /sent more than 4 MiB for the render/);
  });

  it('keeps waiting for a render that takes longer than the idle time while its progress moves', async () => {
    server = await startA1111Server({ advance: 'poll' });
    // 40 polls 20 ms apart outlast the 200 ms idle time several times over; each one moves a step.
    const result = await new A1111Backend({ url: server.url, pollMs: 20, idleTimeoutMs: 200 }).render({ promptText: 'a cat\nSteps: 40, Seed: 3' });
    assert.strictEqual(result.steps, 40);
    assert.strictEqual(server.requests.filter((r) => r.path === '/sdapi/v1/progress').length >= 40, true);
  });

  it('interrupts the webui on cancel and gives no image', async () => {
    server = await startA1111Server({ advance: 'poll' });
    const abort = new AbortController();
    const running = new A1111Backend({ url: server.url, pollMs: 1 }).render({ promptText: 'a cat\nSteps: 50' }, { signal: abort.signal, onProgress: (p) => p.step === 2 && abort.abort() });
    await expectError(running, 'cancelled', /render cancelled/);
    assert.strictEqual(server.interrupts, 1);
  });

  it('says which part of the parameter line is wrong', async () => {
    await expectError(new A1111Backend({ url: 'http://127.0.0.1:1' }).render({ promptText: 'a cat\nSteps: many' }), 'bad-input', /'Steps: many' is not a number/);
    assert.throws(() => new A1111Backend({ url: 'localhost:7860' }), /must start with http:\/\/ or https:\/\//);
  });
});
