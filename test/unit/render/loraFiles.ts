import * as fs from 'fs';

/** A real F32 safetensors file from named arrays. */
export function writeSafetensors(file: string, tensors: Record<string, { dims: number[]; data: Float32Array }>): void {
  const header: Record<string, unknown> = { __metadata__: { ss_network_dim: '2', ss_network_alpha: '1' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + bytes.length] };
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
