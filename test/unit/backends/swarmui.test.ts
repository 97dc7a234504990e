import * as assert from 'assert';
import { BackendError, BackendProgress } from '../../../server/src/render/backends/backend';
import { SwarmBackend } from '../../../server/src/render/backends/swarmui';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { startSwarmServer, SwarmServer } from './servers/swarmServer';

async function expectError(p: Promise<unknown>, kind: BackendError['kind'], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackendError, `not a BackendError: ${e}`);
    assert.strictEqual(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('SwarmUI backend', () => {
  let server: SwarmServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends the generation as Swarm parameters on the socket, a batch as images, and keeps one session', async () => {
    server = await startSwarmServer();
    const backend = new SwarmBackend({ url: server.url });
    const prompt = 'a castle <lora:pixel_art:0.8:0.5>\nNegative prompt: blurry\nSteps: 2, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, Seed: 100, Size: 768x512, Model: sd_xl_base_1.0, Clip skip: 2';
    const result = await backend.render({ promptText: prompt, images: 3 });
    assert.deepStrictEqual(server.requests[0], {
      session_id: 'SESSION1',
      images: 3,
      prompt: 'a castle',
      negativeprompt: 'blurry',
      model: 'OfficialStableDiffusion/sd_xl_base_1.0',
      seed: 100,
      steps: 2,
      cfgscale: 6,
      width: 768,
      height: 512,
      sampler: 'dpmpp_2m',
      scheduler: 'karras',
      clipstopatlayer: -2,
      loras: 'styles/pixel_art',
      loraweights: '0.5',
      loratencweights: '0.8',
    });
    assert.strictEqual(result.pngs.length, 3);
    // Swarm's JSON `parameters` is replaced by the infotext A1111's PNG Info reads, with each image's seed.
    assert.deepStrictEqual(result.pngs.map((p) => /Seed: (\d+)/.exec(readPngInfo(p).text.parameters)?.[1]), ['100', '101', '102']);
    assert.strictEqual(result.seed, 100);
    await backend.render({ promptText: 'a cat\nSteps: 1' });
    assert.strictEqual(server.sessions, 1);
  });

  it('reports gen_progress as steps with the data-URL previews, and reads data-URL images', async () => {
    server = await startSwarmServer({ dataUrls: true });
    const seen: BackendProgress[] = [];
    const result = await new SwarmBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 2, Seed: -1' }, { onProgress: (p) => seen.push(p) });
    assert.deepStrictEqual(seen.map((p) => `${p.step}/${p.steps} ${p.preview?.mime} ${p.preview && readPngInfo(p.preview.bytes).width}`), ['1/2 image/png 4', '2/2 image/png 4']);
    assert.strictEqual(result.seed, 777);
    assert.strictEqual(result.infotext, 'a cat\nSteps: 2, Seed: 777');
  });

  it('names a model or LoRA the server lacks, and passes on a Swarm error message', async () => {
    server = await startSwarmServer();
    const backend = new SwarmBackend({ url: server.url });
    await expectError(backend.render({ promptText: 'a cat\nSteps: 2, Model: flux1-dev' }), 'missing-model', /has no model 'flux1-dev' \(it has: OfficialStableDiffusion\/sd_xl_base_1.0.safetensors; dreamshaper_8.safetensors\)/);
    await expectError(backend.render({ promptText: 'a cat <lora:nope:1>' }), 'missing-lora', /has no LoRA 'nope'/);
    (backend as unknown as { findModel: () => Promise<string> }).findModel = async () => 'deleted_meanwhile';
    await expectError(backend.render({ promptText: 'a cat\nSteps: 2, Model: x' }), 'missing-model', /refused the render: Invalid model value for param Model - 'deleted_meanwhile'/);
    assert.strictEqual(server.requests.length, 1);
  });

  it('says so when the socket drops or goes silent mid-render, and interrupts only its own session on cancel', async () => {
    server = await startSwarmServer({ holdAtStep: 1, fault: 'drop' });
    await expectError(new SwarmBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 3' }), 'dropped', /closed the connection during the render/);
    await server.close();
    server = await startSwarmServer({ holdAtStep: 1, fault: 'hang' });
    await expectError(new SwarmBackend({ url: server.url, idleTimeoutMs: 300 }).render({ promptText: 'a cat\nSteps: 3' }), 'timeout', /sent nothing for 0 s during the render/);
    await server.close();
    server = await startSwarmServer({ holdAtStep: 2 });
    const abort = new AbortController();
    await expectError(new SwarmBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 5' }, { signal: abort.signal, onProgress: (p) => p.step === 2 && abort.abort() }), 'cancelled', /^render cancelled$/);
    assert.deepStrictEqual(server.interrupts, [{ session_id: 'SESSION1', other_sessions: false }]);
  });

  it('asks for the model list once for several renders, and afresh for a model it did not list before', async () => {
    const models = ['dreamshaper_8.safetensors'];
    server = await startSwarmServer({ models });
    const backend = new SwarmBackend({ url: server.url });
    await backend.render({ promptText: 'a cat\nSteps: 1, Model: dreamshaper_8' });
    await backend.render({ promptText: 'a dog\nSteps: 1, Model: dreamshaper_8' });
    assert.strictEqual(server.listings, 1);
    models.push('copied_in_just_now.safetensors');
    const result = await backend.render({ promptText: 'a cat\nSteps: 1, Model: copied_in_just_now' });
    assert.strictEqual(result.model, 'copied_in_just_now');
    assert.strictEqual(server.listings, 2);
  });

  it('lists the server LoRAs', async () => {
    server = await startSwarmServer();
    assert.deepStrictEqual(await new SwarmBackend({ url: server.url }).listLoras(), [
      { name: 'add_detail', path: 'add_detail.safetensors' },
      { name: 'pixel_art', path: 'styles/pixel_art.safetensors' },
    ]);
  });
});
