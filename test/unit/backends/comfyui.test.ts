import * as assert from 'assert';
import { BackendError, BackendProgress } from '../../../server/src/render/backends/backend';
import { COMFY_WEIGHTING_NOTE, ComfyBackend } from '../../../server/src/render/backends/comfyui';
import { comfySampler } from '../../../server/src/render/backends/comfySamplers';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { ComfyServer, startComfyServer } from './servers/comfyServer';

async function expectError(p: Promise<unknown>, kind: BackendError['kind'], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackendError, `not a BackendError: ${e}`);
    assert.strictEqual(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

const PROMPT = 'a castle, (golden hour:1.2) <lora:add_detail:0.6:0.4> <lora:pixel_art:0.8>\nNegative prompt: blurry\nSteps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 42, Size: 640x512, Model: v1-5-pruned-emaonly, Clip skip: 2';

describe('ComfyUI backend', () => {
  let server: ComfyServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('queues the API-format graph of the .prompt: checkpoint, a LoraLoader per tag, Clip skip, encoders, KSampler, decode, save', async () => {
    server = await startComfyServer();
    const result = await new ComfyBackend({ url: server.url }).render({ promptText: PROMPT });
    assert.deepStrictEqual(server.prompts[0].prompt, {
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
      '10': { class_type: 'LoraLoader', inputs: { lora_name: 'add_detail.safetensors', strength_model: 0.4, strength_clip: 0.6, model: ['4', 0], clip: ['4', 1] } },
      '11': { class_type: 'LoraLoader', inputs: { lora_name: 'styles/pixel_art.safetensors', strength_model: 0.8, strength_clip: 0.8, model: ['10', 0], clip: ['10', 1] } },
      '30': { class_type: 'CLIPSetLastLayer', inputs: { stop_at_clip_layer: -2, clip: ['11', 1] } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a castle, (golden hour:1.2)', clip: ['30', 0] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['30', 0] } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 640, height: 512, batch_size: 1 } },
      '3': { class_type: 'KSampler', inputs: { seed: 42, steps: 3, cfg: 6.5, sampler_name: 'dpmpp_2m', scheduler: 'karras', denoise: 1, model: ['11', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
      '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
      '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'sd-prompt', images: ['8', 0] } },
    });
    assert.strictEqual(result.seed, 42);
    assert.strictEqual(result.model, 'v1-5-pruned-emaonly.safetensors');
    assert.ok(result.notes.includes(COMFY_WEIGHTING_NOTE));
    // ComfyUI saves its graph, not an infotext: the image gets the file's as A1111 would write it.
    assert.deepStrictEqual(readPngInfo(result.png).text, { prompt: '{"3": {}}', parameters: PROMPT });
  });

  it('follows the socket: every step with its binary preview frame, then the images of the batch from /view', async () => {
    server = await startComfyServer({ comboShape: 'options' });
    const seen: BackendProgress[] = [];
    const result = await new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 2, Seed: 5, Model: v1-5-pruned-emaonly', images: 2 }, { onProgress: (p) => seen.push(p) });
    assert.deepStrictEqual(seen.map((p) => `${p.step}/${p.steps}${p.preview ? ` ${p.preview.mime} ${readPngInfo(p.preview.bytes).width}px` : ''}`), ['1/2', '1/2 image/png 4px', '2/2', '2/2 image/png 4px']);
    assert.strictEqual(result.pngs.length, 2);
    assert.notDeepStrictEqual(result.pngs[0], result.pngs[1]);
  });

  it('misses no event of a render that runs before POST /prompt has answered', async () => {
    server = await startComfyServer({ eager: true });
    const seen: string[] = [];
    const result = await new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 2, Seed: 5' }, { onProgress: (p) => seen.push(`${p.step}/${p.steps}${p.preview ? ' preview' : ''}`) });
    assert.deepStrictEqual(seen, ['1/2', '1/2 preview', '2/2', '2/2 preview']);
    assert.strictEqual(result.pngs.length, 1);
  });

  it('finds the image in /history when the cached SaveImage sends no executed message', async () => {
    server = await startComfyServer({ cachedOutput: true });
    const result = await new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 1, Seed: 5', images: 2 });
    assert.strictEqual(result.pngs.length, 2);
    assert.strictEqual(readPngInfo(result.png).text.parameters, 'a cat\nSteps: 1, Seed: 5');
  });

  it('picks a seed for -1 and writes it into the infotext; a file without Model renders on the first checkpoint, said in a note', async () => {
    server = await startComfyServer();
    const result = await new ComfyBackend({ url: server.url }).render({ promptText: 'a cat' });
    const seed = server.prompts[0].prompt['3'].inputs.seed as number;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
    assert.strictEqual(result.infotext, `a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: ${seed}, Size: 512x512`);
    assert.ok(result.notes.includes("the file names no Model: rendered with the server's first checkpoint, v1-5-pruned-emaonly.safetensors"));
  });

  it('names a checkpoint or LoRA the server lacks, from its list or from ComfyUI node_errors', async () => {
    server = await startComfyServer();
    const backend = new ComfyBackend({ url: server.url });
    await expectError(backend.render({ promptText: 'a cat\nSteps: 20, Model: dreamshaper_8' }), 'missing-model', /has no checkpoint 'dreamshaper_8' \(it has: v1-5-pruned-emaonly.safetensors; SDXL\/sd_xl_base_1.0.safetensors\)/);
    await expectError(backend.render({ promptText: 'a cat <lora:nope:1>' }), 'missing-lora', /has no LoRA 'nope'/);
    await server.close();
    // The list said yes but the queue says no (a file removed meanwhile): ComfyUI's node_errors.
    server = await startComfyServer({ checkpoints: [] });
    const raced = new ComfyBackend({ url: server.url });
    (raced as unknown as { findCheckpoint: () => Promise<string> }).findCheckpoint = async () => 'gone.safetensors';
    await expectError(raced.render({ promptText: 'a cat' }), 'missing-model', /refused the render: Prompt outputs failed validation: CheckpointLoaderSimple 4: Value not in list \(ckpt_name: 'gone.safetensors' not in \[\]\)/);
  });

  it('says so when the server fails mid-render, drops the socket, or goes silent', async () => {
    server = await startComfyServer({ holdAtStep: 1, fault: 'error' });
    await expectError(new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 3, Model: v1-5-pruned-emaonly' }), 'server', /failed the render in KSampler \(node 3\): torch.OutOfMemoryError: CUDA out of memory/);
    await server.close();
    server = await startComfyServer({ holdAtStep: 1, fault: 'drop' });
    await expectError(new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 3, Model: v1-5-pruned-emaonly' }), 'dropped', /closed the connection during the render: did the server stop or crash\?/);
    await server.close();
    server = await startComfyServer({ holdAtStep: 1, fault: 'hang' });
    await expectError(new ComfyBackend({ url: server.url, idleTimeoutMs: 300 }).render({ promptText: 'a cat\nSteps: 3, Model: v1-5-pruned-emaonly' }), 'timeout', /sent nothing for 0 s during the render/);
  });

  it('interrupts and removes the render from the queue on cancel', async () => {
    server = await startComfyServer({ holdAtStep: 2 });
    const abort = new AbortController();
    await expectError(new ComfyBackend({ url: server.url }).render({ promptText: 'a cat\nSteps: 10, Model: v1-5-pruned-emaonly' }, { signal: abort.signal, onProgress: (p) => p.step === 2 && abort.abort() }), 'cancelled', /^render cancelled$/);
    assert.strictEqual(server.interrupts.length, 1);
    assert.deepStrictEqual(server.deletes, [{ delete: ['00000000-0000-4000-8000-000000000001'] }]);
  });

  it('sends credentials on HTTP and on the socket, and says when they are refused', async () => {
    server = await startComfyServer({ auth: { user: 'u', password: 'p' } });
    await new ComfyBackend({ url: server.url, user: 'u', password: 'p' }).render({ promptText: 'a cat\nSteps: 1' });
    await expectError(new ComfyBackend({ url: server.url, user: 'u', password: 'x' }).render({ promptText: 'a cat' }), 'auth', /refused the credentials \(HTTP 401\)/);
  });

  it('maps A1111 sampler and schedule names to ComfyUI, legacy suffixes and Automatic defaults included', () => {
    assert.deepStrictEqual(comfySampler('Euler a', undefined), { sampler_name: 'euler_ancestral', scheduler: 'normal' });
    assert.deepStrictEqual(comfySampler('DPM++ 2M Karras', undefined), { sampler_name: 'dpmpp_2m', scheduler: 'karras' });
    assert.deepStrictEqual(comfySampler('DPM++ 2M SDE', 'Automatic'), { sampler_name: 'dpmpp_2m_sde', scheduler: 'exponential' });
    assert.deepStrictEqual(comfySampler('UniPC', 'SGM Uniform'), { sampler_name: 'uni_pc', scheduler: 'sgm_uniform' });
    assert.deepStrictEqual(comfySampler('DDIM', 'DDIM'), { sampler_name: 'ddim', scheduler: 'ddim_uniform' });
    assert.throws(() => comfySampler('Restart', undefined), /ComfyUI has no sampler matching A1111's 'Restart'/);
    assert.throws(() => comfySampler('Euler', 'Align Your Steps'), /no scheduler matching A1111's schedule type 'Align Your Steps'/);
  });

  it('lists the server LoRAs by the names A1111 tags use', async () => {
    server = await startComfyServer();
    assert.deepStrictEqual(await new ComfyBackend({ url: server.url }).listLoras(), [
      { name: 'add_detail', path: 'add_detail.safetensors' },
      { name: 'pixel_art', path: 'styles/pixel_art.safetensors' },
    ]);
  });
});
