import * as assert from 'assert';
import { readGenerationData } from '../../../server/src/service/imageData/generationData';
import { ImageDataError } from '../../../server/src/service/imageData/types';
import { pngWithText } from './imageBuilders';

/** ComfyUI's default graph with a clip-skip node and two LoRAs, as its `prompt` chunk (API format) holds it. */
const API_GRAPH = {
  '3': { class_type: 'KSampler', inputs: { seed: 156680208700286, steps: 20, cfg: 8, sampler_name: 'dpmpp_2m', scheduler: 'karras', denoise: 1, model: ['12', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'SD1.5/dreamshaper_8.safetensors' } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 768, batch_size: 1 } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'masterpiece, 1girl, [white hair]', clip: ['12', 1] } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'lowres, bad hands', clip: ['12', 1] } },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
  '10': { class_type: 'CLIPSetLastLayer', inputs: { stop_at_clip_layer: -2, clip: ['4', 1] } },
  '11': { class_type: 'LoraLoader', inputs: { lora_name: 'styles/add_detail.safetensors', strength_model: 0.8, strength_clip: 0.5, model: ['4', 0], clip: ['10', 0] } },
  '12': { class_type: 'LoraLoader', inputs: { lora_name: 'char\\frieren.safetensors', strength_model: 1, strength_clip: 1, model: ['11', 0], clip: ['11', 1] } },
  '13': { class_type: 'UpscaleModelLoader', inputs: { model_name: '4x-UltraSharp.pth' } },
};

/** A UI graph (`workflow` chunk): a reroute, primitives feeding a converted text widget and the seed, a bypassed LoRA, a model-only LoRA. */
const UI_GRAPH = {
  last_node_id: 51,
  last_link_id: 12,
  nodes: [
    { id: 4, type: 'CheckpointLoaderSimple', outputs: [{ type: 'MODEL' }, { type: 'CLIP' }, { type: 'VAE' }], widgets_values: ['dreamshaper_8.safetensors'] },
    { id: 20, type: 'LoraLoader', mode: 4, inputs: [{ name: 'model', type: 'MODEL', link: 1 }, { name: 'clip', type: 'CLIP', link: 2 }], outputs: [{ type: 'MODEL' }, { type: 'CLIP' }], widgets_values: ['bypassed.safetensors', 1, 1] },
    { id: 21, type: 'LoraLoaderModelOnly', inputs: [{ name: 'model', type: 'MODEL', link: 3 }], outputs: [{ type: 'MODEL' }], widgets_values: ['loras/lcm-lora-sdv1-5.safetensors', 0.7] },
    { id: 6, type: 'CLIPTextEncode', inputs: [{ name: 'clip', type: 'CLIP', link: 4 }], outputs: [{ type: 'CONDITIONING' }], widgets_values: ['a cozy cabin in the snow'] },
    { id: 7, type: 'CLIPTextEncode', inputs: [{ name: 'clip', type: 'CLIP', link: 5 }, { name: 'text', type: 'STRING', widget: { name: 'text' }, link: 6 }], outputs: [{ type: 'CONDITIONING' }], widgets_values: ['stale text'] },
    { id: 30, type: 'PrimitiveNode', outputs: [{ type: 'STRING', links: [6] }], widgets_values: ['blurry, watermark'] },
    { id: 31, type: 'PrimitiveNode', outputs: [{ type: 'INT', links: [12] }], widgets_values: [42, 'fixed'] },
    { id: 40, type: 'Reroute', inputs: [{ name: '', type: '*', link: 7 }], outputs: [{ type: 'CONDITIONING' }] },
    { id: 5, type: 'EmptyLatentImage', outputs: [{ type: 'LATENT' }], widgets_values: [768, 512, 2] },
    {
      id: 3,
      type: 'KSampler',
      inputs: [
        { name: 'model', type: 'MODEL', link: 8 },
        { name: 'positive', type: 'CONDITIONING', link: 9 },
        { name: 'negative', type: 'CONDITIONING', link: 10 },
        { name: 'latent_image', type: 'LATENT', link: 11 },
        { name: 'seed', type: 'INT', widget: { name: 'seed' }, link: 12 },
      ],
      widgets_values: [1, 'randomize', 8, 1.5, 'euler_ancestral', 'normal', 1],
    },
    { id: 50, type: 'Note', widgets_values: ['my notes'] },
    { id: 51, type: 'FreeU_V2', inputs: [{ name: 'model', type: 'MODEL', link: null }], widgets_values: [1.3, 1.4, 0.9, 0.2] },
  ],
  links: [
    [1, 4, 0, 20, 0, 'MODEL'],
    [2, 4, 1, 20, 1, 'CLIP'],
    [3, 20, 0, 21, 0, 'MODEL'],
    [4, 20, 1, 6, 0, 'CLIP'],
    [5, 20, 1, 7, 0, 'CLIP'],
    [6, 30, 0, 7, 1, 'STRING'],
    [7, 6, 0, 40, 0, 'CONDITIONING'],
    [8, 21, 0, 3, 0, 'MODEL'],
    [9, 40, 0, 3, 1, 'CONDITIONING'],
    [10, 7, 0, 3, 2, 'CONDITIONING'],
    [11, 5, 0, 3, 3, 'LATENT'],
    [12, 31, 0, 3, 4, 'INT'],
  ],
  version: 0.4,
};

describe('generation data from ComfyUI graphs', () => {
  it('turns the API graph into a .prompt: texts, a LoRA chain as te:unet weights, A1111 sampler and schedule names, clip skip', () => {
    const data = readGenerationData(pngWithText({ prompt: JSON.stringify(API_GRAPH), workflow: JSON.stringify(UI_GRAPH) }));
    assert.strictEqual(data.source, 'comfyui');
    assert.strictEqual(
      data.text,
      [
        '# ComfyUI reads [ ] as plain text; they are escaped as \\[ \\] so A1111 does too',
        '# ComfyUI nodes with no A1111 equivalent here: UpscaleModelLoader',
        'masterpiece, 1girl, \\[white hair\\] <lora:add_detail:0.5:0.8> <lora:frieren:1>',
        'Negative prompt: lowres, bad hands',
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 8, Seed: 156680208700286, Size: 512x768, Model: dreamshaper_8, Clip skip: 2',
      ].join('\n'),
    );
    assert.strictEqual(data.negativePrompt, 'lowres, bad hands');
    assert.deepStrictEqual(data.parameters, { Steps: '20', Sampler: 'DPM++ 2M', 'Schedule type': 'Karras', 'CFG scale': '8', Seed: '156680208700286', Size: '512x768', Model: 'dreamshaper_8', 'Clip skip': '2' });
  });

  it('turns the UI graph into a .prompt through a reroute, primitives, a bypassed LoRA and a model-only LoRA', () => {
    const data = readGenerationData(pngWithText({ workflow: JSON.stringify(UI_GRAPH) }));
    assert.strictEqual(
      data.text,
      [
        '# ComfyUI batch size: 2',
        '# ComfyUI nodes with no A1111 equivalent here: FreeU_V2',
        'a cozy cabin in the snow <lora:lcm-lora-sdv1-5:0:0.7>',
        'Negative prompt: blurry, watermark',
        'Steps: 8, Sampler: Euler a, Schedule type: Normal, CFG scale: 1.5, Seed: 42, Size: 768x512, Model: dreamshaper_8',
      ].join('\n'),
    );
  });

  it("writes ConditioningCombine as AND, and notes a sampler A1111 lacks and a ControlNet on the positive", () => {
    const graph = {
      '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sdxl.safetensors' } },
      '2': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['1', 1] } },
      '3': { class_type: 'CLIPTextEncode', inputs: { text: 'a dog', clip: ['1', 1] } },
      '4': { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['2', 0], conditioning_2: ['3', 0] } },
      '5': { class_type: 'ControlNetApplyAdvanced', inputs: { positive: ['4', 0], negative: ['6', 0], strength: 0.6 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['1', 1] } },
      '7': { class_type: 'EmptyLatentImage', inputs: { width: 1024, height: 1024, batch_size: 1 } },
      '8': { class_type: 'KSampler', inputs: { seed: 1, steps: 30, cfg: 4, sampler_name: 'ipndm', scheduler: 'sgm_uniform', denoise: 1, model: ['1', 0], positive: ['5', 0], negative: ['5', 1], latent_image: ['7', 0] } },
    };
    const data = readGenerationData(pngWithText({ prompt: JSON.stringify(graph) }));
    assert.strictEqual(
      data.text,
      [
        '# ComfyUI ControlNetApplyAdvanced (node 5) changes the positive conditioning; A1111\'s prompt cannot say that',
        '# ComfyUI ControlNetApplyAdvanced (node 5) changes the negative conditioning; A1111\'s prompt cannot say that',
        '# ComfyUI sampler ipndm has no A1111 equivalent',
        'a cat',
        'AND a dog',
        'Steps: 30, Schedule type: SGM Uniform, CFG scale: 4, Seed: 1, Size: 1024x1024, Model: sdxl',
      ].join('\n'),
    );
  });

  it('keeps a 64-bit ComfyUI seed exact, and a prompt that only looks like one untouched', () => {
    const graph = JSON.stringify({
      '1': { class_type: 'CLIPTextEncode', inputs: { text: 'seed: 12345678901234567890, a cat', clip: ['2', 1] } },
      '3': { class_type: 'KSampler', inputs: { seed: 0, steps: 4, cfg: 1, sampler_name: 'euler', scheduler: 'simple', positive: ['1', 0], negative: ['1', 0] } },
    }).replace('"seed":0', '"seed":18446744073709551615');
    const data = readGenerationData(pngWithText({ prompt: graph }));
    assert.strictEqual(data.parameters.Seed, '18446744073709551615');
    assert.strictEqual(data.prompt, 'seed: 12345678901234567890, a cat');
  });

  it('ends on a reroute loop and refuses broken graph JSON by name', () => {
    const loop = {
      nodes: [
        { id: 1, type: 'Reroute', inputs: [{ name: '', link: 2 }] },
        { id: 2, type: 'Reroute', inputs: [{ name: '', link: 1 }] },
        { id: 3, type: 'KSampler', inputs: [{ name: 'positive', link: 3 }], widgets_values: [5, 'fixed', 20, 7, 'euler', 'normal', 1] },
      ],
      links: [
        [1, 1, 0, 2, 0, '*'],
        [2, 2, 0, 1, 0, '*'],
        [3, 1, 0, 3, 1, 'CONDITIONING'],
      ],
    };
    const data = readGenerationData(pngWithText({ workflow: JSON.stringify(loop) }));
    assert.strictEqual(data.text, '\nSteps: 20, Sampler: Euler, Schedule type: Normal, CFG scale: 7, Seed: 5');
    assert.throws(
      () => readGenerationData(pngWithText({ prompt: '{"3": {"class_type": ' })),
      (e: unknown) => e instanceof ImageDataError && e.kind === 'unreadable' && /^ComfyUI prompt JSON is broken \(/.test(e.message),
    );
  });
});
