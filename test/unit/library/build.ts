/** Builds small, valid safetensors files for tests: the header says what the tests need, data is zeros. */
export interface TensorSpec {
  name: string;
  dtype?: 'F32' | 'F16' | 'BF16';
  shape: number[];
}

const SIZE = { F32: 4, F16: 2, BF16: 2 } as const;

export function buildSafetensors(metadata: Record<string, string>, tensors: TensorSpec[]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F16';
    const bytes = t.shape.reduce((a, b) => a * b, 1) * SIZE[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** A kohya SD1.5 LoRA with one cross-attention module (768-wide to_k), rank 4. */
export function kohyaSd15(metadata: Record<string, string> = {}): Uint8Array {
  return buildSafetensors(
    { ss_base_model_version: 'sd_v1', ss_network_dim: '4', ss_network_alpha: '2', ...metadata },
    [
      { name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight', shape: [4, 768] },
      { name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight', shape: [320, 4] },
      { name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha', shape: [] },
    ],
  );
}

/** A kohya SDXL LoRA (two text encoders). */
export function kohyaSdxl(): Uint8Array {
  return buildSafetensors({ ss_base_model_version: 'sdxl_base_v1-0' }, [
    { name: 'lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', shape: [4, 768] },
    { name: 'lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', shape: [3072, 4] },
    { name: 'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', shape: [4, 1280] },
    { name: 'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', shape: [5120, 4] },
  ]);
}

/** A PEFT/diffusers LoRA (keys A1111 ignores). */
export function peftSd15(): Uint8Array {
  return buildSafetensors({}, [
    { name: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight', shape: [4, 768] },
    { name: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight', shape: [320, 4] },
  ]);
}
