import * as fs from 'fs';
import * as path from 'path';
import { encodePng } from '../pipeline/png';

/**
 * A small LoRA library for the tiny SD1.5 test pipeline (TINY_SD15), so that `npm start`'s demo shows on its
 * first run what a real library gives: the hover card (kohya `ss_*` metadata, trigger words from a sidecar
 * `.json`, a `.preview.png`), completion of names and trigger words, Insert LoRA…, and a Render Preview that
 * merges them (every module matches a weight of the tiny model, so the merge report lists no unmatched keys).
 * The weights are random: the image changes, it does not get "detailed".
 */

/** One demo LoRA: where it goes, what its card says. */
export interface DemoLora {
  /** Path under the library folder, without extension (a subfolder shows as the completion's detail). */
  file: string;
  /** `ss_output_name`: the alias A1111 also resolves. */
  outputName: string;
  activationText: string;
  preferredWeight: number;
  description: string;
  /** Modules (kohya names without `lora_unet_`/`lora_te_`) and their [in, out] widths. */
  modules: [name: string, inDim: number, outDim: number][];
  /** The preview's colour: each LoRA's card looks different. */
  colour: [number, number, number];
  seed: number;
}

const TEXT_WIDTH = 32; // TINY_SD15.hiddenSize: the text encoder's width and the UNet's cross-attention context

/** The tiny UNet's transformer blocks and their channels (TINY_SD15: channels 16, multipliers [1, 2], attention in block 0). */
const UNET_ATTENTIONS: [prefix: string, channels: number][] = [
  ['down_blocks_0_attentions_0', 16],
  ['mid_block_attentions_0', 32],
  ['up_blocks_1_attentions_0', 16],
  ['up_blocks_1_attentions_1', 16],
];

function unetAttention(prefix: string, c: number, crossOnly = false): [string, number, number][] {
  const block = `unet_${prefix}_transformer_blocks_0`;
  const cross: [string, number, number][] = [
    [`${block}_attn2_to_q`, c, c],
    [`${block}_attn2_to_k`, TEXT_WIDTH, c],
    [`${block}_attn2_to_v`, TEXT_WIDTH, c],
    [`${block}_attn2_to_out_0`, c, c],
  ];
  if (crossOnly) return cross;
  return [
    [`${block}_attn1_to_q`, c, c],
    [`${block}_attn1_to_k`, c, c],
    [`${block}_attn1_to_v`, c, c],
    [`${block}_attn1_to_out_0`, c, c],
    ...cross,
    [`${block}_ff_net_0_proj`, c, 8 * c],
    [`${block}_ff_net_2`, 4 * c, c],
  ];
}

function textLayer(layer: number): [string, number, number][] {
  const l = `te_text_model_encoder_layers_${layer}`;
  const w = TEXT_WIDTH;
  return [
    [`${l}_self_attn_q_proj`, w, w],
    [`${l}_self_attn_k_proj`, w, w],
    [`${l}_self_attn_v_proj`, w, w],
    [`${l}_self_attn_out_proj`, w, w],
    [`${l}_mlp_fc1`, w, 4 * w],
    [`${l}_mlp_fc2`, 4 * w, w],
  ];
}

export const DEMO_LORAS: readonly DemoLora[] = [
  {
    file: 'add_detail',
    outputName: 'add_detail',
    activationText: 'detailed, intricate',
    preferredWeight: 0.8,
    description: 'Demo LoRA for the tiny test model (random weights): text encoder and every UNet attention.',
    modules: [...textLayer(0), ...textLayer(1), ...UNET_ATTENTIONS.flatMap(([p, c]) => unetAttention(p, c))],
    colour: [224, 176, 64],
    seed: 7,
  },
  {
    file: 'styles/ink_style',
    outputName: 'ink_style',
    activationText: 'ink sketch, monochrome',
    preferredWeight: 0.6,
    description: 'Demo style LoRA for the tiny test model (random weights): UNet cross-attention only.',
    modules: UNET_ATTENTIONS.flatMap(([p, c]) => unetAttention(p, c, true)),
    colour: [64, 96, 208],
    seed: 11,
  },
];

const RANK = 4;
const ALPHA = 2;

/** Small deterministic values (an LCG): the same library on every machine. */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 4294967296 - 0.5) * scale;
  });
}

/** A kohya LoRA safetensors file: `lora_down` [rank, in], `lora_up` [out, rank], `alpha`, and kohya's `ss_*` metadata. */
export function demoLoraBytes(lora: DemoLora): Buffer {
  const tagFrequency = { [`10_${lora.outputName}`]: Object.fromEntries(lora.activationText.split(', ').map((t, i) => [t, 40 - i * 5])) };
  const metadata: Record<string, string> = {
    ss_output_name: lora.outputName,
    ss_network_module: 'networks.lora',
    ss_network_dim: String(RANK),
    ss_network_alpha: String(ALPHA),
    ss_base_model_version: 'sd_v1',
    ss_sd_model_name: 'tiny-sd15',
    ss_v2: 'False',
    ss_resolution: '(64, 64)',
    ss_num_train_images: '40',
    ss_tag_frequency: JSON.stringify(tagFrequency),
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Buffer[] = [];
  let offset = 0;
  const add = (name: string, dims: number[], data: Float32Array) => {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: 'F32', shape: dims, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  };
  lora.modules.forEach(([name, inDim, outDim], i) => {
    add(`lora_${name}.alpha`, [], Float32Array.of(ALPHA));
    add(`lora_${name}.lora_down.weight`, [RANK, inDim], values(RANK * inDim, lora.seed * 1000 + 2 * i, 0.5));
    add(`lora_${name}.lora_up.weight`, [outDim, RANK], values(outDim * RANK, lora.seed * 1000 + 2 * i + 1, 0.5));
  });
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...parts]);
}

/** A 64×64 preview: the LoRA's colour fading into white, so the card and the picker show an image. */
export function demoPreviewPng(lora: DemoLora, size = 64): Buffer {
  const rgb = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * (size - 1));
      for (let k = 0; k < 3; k++) rgb[(y * size + x) * 3 + k] = Math.round(lora.colour[k] + (255 - lora.colour[k]) * t);
    }
  }
  return encodePng(size, size, rgb);
}

/**
 * Writes the demo library into `folder` (created if needed): `<file>.safetensors`, `<file>.json`
 * (A1111's sidecar: activation text, preferred weight, description) and `<file>.preview.png` per LoRA.
 * Returns the LoRA files written.
 */
export function writeDemoLoraLibrary(folder: string, loras: readonly DemoLora[] = DEMO_LORAS): string[] {
  return loras.map((lora) => {
    const base = path.join(folder, ...lora.file.split('/'));
    fs.mkdirSync(path.dirname(base), { recursive: true });
    fs.writeFileSync(`${base}.safetensors`, demoLoraBytes(lora));
    const sidecar = { description: lora.description, 'activation text': lora.activationText, 'preferred weight': lora.preferredWeight, 'sd version': 'SD1' };
    fs.writeFileSync(`${base}.json`, JSON.stringify(sidecar, null, 2) + '\n');
    fs.writeFileSync(`${base}.preview.png`, demoPreviewPng(lora));
    return `${base}.safetensors`;
  });
}
