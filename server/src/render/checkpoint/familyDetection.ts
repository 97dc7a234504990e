import { SafetensorsTensor } from '../../service/library/safetensors';
import { SdFamily } from '../sdGraphs/architecture';
import { CheckpointError } from './checkpointError';

/**
 * Which model a single-file checkpoint holds, from its keys and a few shapes, as A1111
 * (modules/sd_models_config.py: guess_model_config_from_state_dict) and ComfyUI (comfy/model_detection.py)
 * tell them apart. SD1, SD2 and SDXL base load; every other family is refused by name, and files that are
 * not checkpoints at all (a LoRA, a VAE, a text encoder) say what they are and where they belong.
 */

export type TensorIndex = ReadonlyMap<string, SafetensorsTensor>;

const UNET = 'model.diffusion_model.';

function anyKey(tensors: TensorIndex, test: (key: string) => boolean): boolean {
  for (const key of tensors.keys()) if (test(key)) return true;
  return false;
}

const LORA_KEY = /^lora_(unet|te\d?)_|\.lora_(down|up|A|B)\.|\.lora\.(down|up)\.|\.(hada_w1_a|lokr_w1|lokr_w1_a)$|_lora\.(down|up)\.weight$/;

function countMatching(tensors: TensorIndex, test: (key: string) => boolean): number {
  let n = 0;
  for (const key of tensors.keys()) if (test(key)) n++;
  return n;
}

/** Families with a UNet/transformer that are not SD1/SD2/SDXL, by a key only they have (ComfyUI's markers). */
function otherDiffusionFamily(tensors: TensorIndex): string | undefined {
  const has = (part: string) => anyKey(tensors, (k) => k.includes(part));
  const ends = (suffix: string) => anyKey(tensors, (k) => k.endsWith(suffix));
  if (has('double_blocks.') && has('single_blocks.')) return 'FLUX';
  if (has('joint_blocks.')) return 'Stable Diffusion 3';
  if (has('double_layers.') && has('single_layers.')) return 'AuraFlow';
  if (ends('clf.1.weight') || has('clip_txt_mapper.')) return 'Stable Cascade';
  if (has('mlp_t5.')) return 'Hunyuan-DiT';
  if (has('t_block.1.') && has('y_embedder.')) return 'PixArt';
  if (has('time_stack.')) return 'Stable Video Diffusion';
  if (has('motion_modules.')) return 'an AnimateDiff motion module';
  if (has('input_hint_block.') || anyKey(tensors, (k) => k.startsWith('control_model.'))) return 'a ControlNet';
  return undefined;
}

function shapeOf(tensors: TensorIndex, key: string): number[] | undefined {
  return tensors.get(key)?.shape;
}

function refuse(file: string, family: string, why: string): CheckpointError {
  return new CheckpointError('unsupported-family', `${file} looks like ${family} (${why}); sd-prompt renders SD1.x, SD2.x and SDXL base checkpoints only`);
}

/** The family a checkpoint can be rendered as, or an error that names what the file is. */
export function detectFamily(file: string, tensors: TensorIndex): SdFamily {
  if (tensors.size === 0) throw new CheckpointError('unknown-family', `${file} holds no tensors`);
  const hasUnet = anyKey(tensors, (k) => k.startsWith(UNET));
  const other = otherDiffusionFamily(tensors);
  if (other !== undefined) throw refuse(file, other, 'from its key names');

  if (!hasUnet) {
    const loraKeys = countMatching(tensors, (k) => LORA_KEY.test(k));
    if (loraKeys > 0) {
      throw new CheckpointError(
        'lora',
        `${file} is a LoRA (${loraKeys} of its ${tensors.size} tensors are LoRA weights), not a checkpoint: put it in models/Lora and use it in a prompt as <lora:NAME:1>`,
      );
    }
    const vae = anyKey(tensors, (k) => /^(first_stage_model\.|vae\.)?(decoder|encoder)\.(conv_in|mid|up|down)/.test(k));
    if (vae) {
      throw new CheckpointError(
        'vae-only',
        `${file} is a VAE only (it has no UNet), not a checkpoint: choose it as the VAE (sdPrompt.vae, or "VAE:" in the prompt's parameters) beside a checkpoint`,
      );
    }
    if (anyKey(tensors, (k) => /^(down_blocks|up_blocks|mid_block)\./.test(k))) {
      throw new CheckpointError('unknown-family', `${file} is one component of a diffusers model (its keys are diffusers names like down_blocks.0...), not a single-file checkpoint: use the whole model folder`);
    }
    if (anyKey(tensors, (k) => k.includes('text_model.') || k.startsWith('cond_stage_model.') || k.startsWith('conditioner.'))) {
      throw new CheckpointError('unknown-family', `${file} holds a text encoder but no UNet (no "${UNET}*" keys): it is not a whole checkpoint`);
    }
    throw new CheckpointError('unknown-family', `${file} is not a Stable Diffusion checkpoint: it has no UNet ("${UNET}*" keys)`);
  }

  const input = shapeOf(tensors, `${UNET}input_blocks.0.0.weight`);
  if (input === undefined || input.length !== 4) {
    throw new CheckpointError('unknown-family', `${file} has "${UNET}*" keys but no 4-D "${UNET}input_blocks.0.0.weight": not a UNet sd-prompt knows`);
  }
  const inChannels = input[1];
  const textFamily = tensors.has('conditioner.embedders.1.model.ln_final.weight')
    ? 'SDXL'
    : tensors.has('cond_stage_model.model.ln_final.weight') || tensors.has('cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight')
      ? 'SD2'
      : anyKey(tensors, (k) => k.startsWith('cond_stage_model.transformer.'))
        ? 'SD1'
        : undefined;
  if (inChannels === 9) throw refuse(file, `an ${textFamily ?? 'SD'} inpainting model`, 'its UNet takes 9 input channels');
  if (inChannels === 8) throw refuse(file, 'an InstructPix2Pix model', 'its UNet takes 8 input channels');
  if (inChannels !== 4) throw refuse(file, 'an unknown model', `its UNet takes ${inChannels} input channels, not 4`);

  if (anyKey(tensors, (k) => k.startsWith('depth_model.'))) throw refuse(file, 'an SD2 depth-to-image model', 'it has depth_model.* keys');
  if (anyKey(tensors, (k) => k.startsWith('embedder.model.'))) throw refuse(file, 'an SD2 unCLIP model', 'it has an image embedder');
  if (anyKey(tensors, (k) => k.startsWith('cond_stage_model.roberta.'))) throw refuse(file, 'AltDiffusion', 'its text encoder is XLM-RoBERTa');

  const label = shapeOf(tensors, `${UNET}label_emb.0.0.weight`);
  if (textFamily === 'SDXL') {
    if (label === undefined) throw new CheckpointError('missing-key', `${file} has SDXL's text encoders but no "${UNET}label_emb.0.0.weight"`);
    if (label[1] === 5632) throw refuse(file, 'Kolors', 'its UNet takes a 5632-wide label embedding');
    return 'sdxl';
  }
  const refinerNorm = shapeOf(tensors, 'conditioner.embedders.0.model.ln_final.weight');
  if (refinerNorm !== undefined) {
    throw refuse(file, 'the SDXL refiner', 'its only text encoder is OpenCLIP-bigG under conditioner.embedders.0');
  }
  if (textFamily === 'SD2') {
    if (label !== undefined) throw refuse(file, 'an SD2 unCLIP model', 'its UNet has a label embedding');
    return 'sd2';
  }
  if (textFamily === 'SD1') {
    if (label !== undefined) throw refuse(file, 'an unknown SD1-based model', 'its UNet has a label embedding');
    return 'sd1';
  }
  throw new CheckpointError(
    'missing-key',
    `${file} has a UNet but no text encoder sd-prompt knows (looked for cond_stage_model.transformer.* (SD1), cond_stage_model.model.* (SD2), conditioner.embedders.* (SDXL))`,
  );
}
