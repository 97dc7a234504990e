import * as assert from 'assert';
import * as fs from 'fs';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import { isLoraKeyMapError, LoraModule, mapLoraKeys } from '../../../server/src/render/lora/loraKeys';
import { LoraTensor, readLoraTensors, resolveModule } from '../../../server/src/render/lora/loraTensors';
import { fromFloat16, toFloat16 } from '../../../server/src/render/onnx/half';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

/** A value as the file's dtype stores it, read back as a float (what a merge sees). */
export function storedAs(dtype: SafetensorsDType, data: Float32Array): Float32Array {
  if (dtype === 'F32') return data;
  if (dtype === 'F16') return fromFloat16(toFloat16(data));
  return Float32Array.from(data, (v) => bf16ToFloat(floatToBf16(v)));
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** bfloat16 bits of a float, rounded to nearest even (torch's conversion). */
function floatToBf16(v: number): number {
  F32[0] = v;
  const x = U32[0];
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function bf16ToFloat(bits: number): number {
  U32[0] = bits << 16;
  return F32[0];
}

/** A real safetensors file from named arrays, stored as `dtype` (F32 by default). */
export function writeSafetensors(file: string, tensors: Record<string, { dims: number[]; data: Float32Array }>, dtype: SafetensorsDType = 'F32'): void {
  const header: Record<string, unknown> = { __metadata__: { ss_network_dim: '2', ss_network_alpha: '1' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const encoded = dtype === 'F32' ? t.data : dtype === 'F16' ? toFloat16(t.data) : Uint16Array.from(t.data, floatToBf16);
    const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    header[name] = { dtype, shape: t.dims, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([prefix, json, ...parts]));
}

export function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 0.2;
  });
}


/** A kohya LoRA of rank 2 on the tiny SD1.5's first cross-attention to_k and first text-encoder q_proj. */
export function tinyKohyaLora(): Record<string, { dims: number[]; data: Float32Array }> {
  return {
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': { dims: [2, 32], data: random(64, 11) },
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': { dims: [16, 2], data: random(32, 12) },
    'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': { dims: [2, 32], data: random(64, 13) },
    'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': { dims: [32, 2], data: random(64, 14) },
  };
}

/** The modules of a LoRA file with their tensors, as a render resolves them; every key must be understood. */
export async function readLoraModules(file: string): Promise<LoraModule<LoraTensor>[]> {
  const read = await readLoraTensors(new NodeFileSystem(), file);
  if ('error' in read) throw new Error(read.error);
  const keys = mapLoraKeys(read.tensors.keys());
  if (isLoraKeyMapError(keys)) throw new Error(keys.error);
  assert.deepStrictEqual(keys.unmatched, []);
  return keys.modules.map((m) => {
    const r = resolveModule(m, read.tensors);
    if ('error' in r) throw new Error(r.error);
    return r;
  });
}
