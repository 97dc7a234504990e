import { comfySampler } from './comfySamplers';
import { Generation } from './generation';

/** One node of ComfyUI's API-format prompt: `[nodeId, outputIndex]` links its inputs. */
export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
}

export const SAVE_NODE = '9';

/**
 * The API-format graph of a txt2img for the generation, as ComfyUI's default workflow wires it:
 * checkpoint → a LoraLoader per tag (te → strength_clip, unet → strength_model) → CLIPSetLastLayer
 * (Clip skip) → two CLIPTextEncode → KSampler over an EmptyLatentImage → VAEDecode → SaveImage.
 * `ckpt` and the LoRA files are the server's own names for them.
 */
export function comfyGraph(gen: Generation, seed: number, ckpt: string, loraFiles: string[]): Record<string, ComfyNode> {
  const graph: Record<string, ComfyNode> = {};
  graph['4'] = { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: ckpt } };
  let model: [string, number] = ['4', 0];
  let clip: [string, number] = ['4', 1];
  gen.loras.forEach((l, i) => {
    const id = String(10 + i);
    graph[id] = { class_type: 'LoraLoader', inputs: { lora_name: loraFiles[i], strength_model: l.unet, strength_clip: l.te, model, clip } };
    model = [id, 0];
    clip = [id, 1];
  });
  if (gen.clipSkip !== undefined && gen.clipSkip > 1) {
    graph['30'] = { class_type: 'CLIPSetLastLayer', inputs: { stop_at_clip_layer: -gen.clipSkip, clip } };
    clip = ['30', 0];
  }
  graph['6'] = { class_type: 'CLIPTextEncode', inputs: { text: gen.promptWithoutTags, clip } };
  graph['7'] = { class_type: 'CLIPTextEncode', inputs: { text: gen.negativePrompt, clip } };
  graph['5'] = { class_type: 'EmptyLatentImage', inputs: { width: gen.width, height: gen.height, batch_size: gen.images } };
  graph['3'] = {
    class_type: 'KSampler',
    inputs: { seed, steps: gen.steps, cfg: gen.cfgScale, ...comfySampler(gen.sampler, gen.scheduleType), denoise: 1, model, positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
  };
  graph['8'] = { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } };
  graph[SAVE_NODE] = { class_type: 'SaveImage', inputs: { filename_prefix: 'sd-prompt', images: ['8', 0] } };
  return graph;
}
