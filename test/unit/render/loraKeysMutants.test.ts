import * as assert from 'assert';
import {
  LoraKeyMap,
  isDiffusersModulePath,
  isLoraKeyMapError,
  kohyaUnetPath,
  mapLoraKeys,
  splitKohyaName,
  splitTensorKey,
} from '../../../server/src/render/lora/loraKeys';

/*
 * What a user sees of the LoRA key mapping besides the real files that loraKeys.test.ts maps: which
 * module each rarer kohya name lands on, and the reason given for each key that cannot be merged (the
 * panel and `sd-prompt merge` list them key by key). Written from the mutants `npm run mutation` found
 * no test for.
 */

function mapped(keys: string[]): LoraKeyMap {
  const result = mapLoraKeys(keys);
  if (isLoraKeyMapError(result)) assert.fail(result.error);
  return result;
}

/** The reason given for each key, by key. */
function reasons(keys: string[]): Record<string, string> {
  return Object.fromEntries(mapped(keys).unmatched.map((u) => [u.key, u.reason]));
}

/** The one module a pair of kohya up/down keys lands on. */
function moduleOf(prefix: string): string {
  const map = mapped([`${prefix}.lora_down.weight`, `${prefix}.lora_up.weight`]);
  assert.deepStrictEqual(map.unmatched, [], prefix);
  assert.strictEqual(map.modules.length, 1, prefix);
  return `${map.modules[0].component}:${map.modules[0].module}`;
}

describe('LoRA key mapping: the rarer names and every reason a key is refused', () => {
  it('kohya names of the UNet’s resnets, ends and embeddings, and of the CLIP norms and embeddings', () => {
    const cases: [string, string][] = [
      ['lora_unet_down_blocks_0_resnets_1_time_emb_proj', 'unet:down_blocks.0.resnets.1.time_emb_proj'],
      ['lora_unet_down_blocks_1_resnets_0_conv_shortcut', 'unet:down_blocks.1.resnets.0.conv_shortcut'],
      ['lora_unet_up_blocks_2_resnets_2_conv2', 'unet:up_blocks.2.resnets.2.conv2'],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_norm3', 'unet:mid_block.attentions.0.transformer_blocks.0.norm3'],
      ['lora_unet_conv_in', 'unet:conv_in'],
      ['lora_unet_conv_out', 'unet:conv_out'],
      ['lora_unet_conv_norm_out', 'unet:conv_norm_out'],
      ['lora_unet_time_embedding_linear_1', 'unet:time_embedding.linear_1'],
      ['lora_unet_add_embedding_linear_2', 'unet:add_embedding.linear_2'],
      ['lora_te_text_model_encoder_layers_5_layer_norm1', 'text_encoder:text_model.encoder.layers.5.layer_norm1'],
      ['lora_te1_text_model_encoder_layers_5_layer_norm2', 'text_encoder:text_model.encoder.layers.5.layer_norm2'],
      ['lora_te_text_model_final_layer_norm', 'text_encoder:text_model.final_layer_norm'],
      ['lora_te_text_model_embeddings_token_embedding', 'text_encoder:text_model.embeddings.token_embedding'],
      ['lora_te_text_model_embeddings_position_embedding', 'text_encoder:text_model.embeddings.position_embedding'],
      ['lora_te2_text_projection', 'text_encoder_2:text_projection'],
      ['lora_te2_text_model_encoder_layers_31_self_attn_k_proj', 'text_encoder_2:text_model.encoder.layers.31.self_attn.k_proj'],
    ];
    assert.deepStrictEqual(
      cases.map(([kohya]) => moduleOf(kohya)),
      cases.map(([, module]) => module),
    );
    // Three-part names are joined before two-part ones.
    assert.deepStrictEqual(splitKohyaName('time_emb_proj_conv_norm_out_final_layer_norm'), ['time_emb_proj', 'conv_norm_out', 'final_layer_norm']);
    assert.deepStrictEqual(splitKohyaName('a_b_c'), ['a', 'b', 'c']);
  });

  it('compvis names: the second norm of a resnet, and the names that have no diffusers module', () => {
    assert.strictEqual(kohyaUnetPath('input_blocks_1_0_out_layers_0'), 'down_blocks.0.resnets.0.norm2');
    assert.strictEqual(kohyaUnetPath('middle_block_2_out_layers_0'), 'mid_block.resnets.1.norm2');
    assert.strictEqual(kohyaUnetPath('middle_block_1_norm'), 'mid_block.attentions.0.norm');
    assert.strictEqual(kohyaUnetPath('output_blocks_3_1_transformer_blocks_0_attn1_to_v'), 'up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v');
    for (const name of [
      'input_blocks_x_0_in_layers_0', // not an index
      'input_blocks_1_y_in_layers_0',
      'input_blocks_0_1', // conv_in has one child
      'input_blocks_0_0_op',
      'input_blocks_3_1_op', // a downsampler slot holds only op
      'input_blocks_3_0_conv',
      'input_blocks_1_0_in_layers_1', // the SiLU, no weight
      'input_blocks_1_1', // an attention without a layer
      'input_blocks_1_2_proj_in',
      'middle_block_1', // the same
      'middle_block_3_in_layers_0',
      'middle_block_0',
      'output_blocks_x_0_in_layers_0',
      'output_blocks_0_y_in_layers_0',
      'output_blocks_1_0_in_layers_1',
      'output_blocks_1_1_conv', // an upsampler only after a level's last block
      'output_blocks_2_0_conv',
      'output_blocks_2_3_conv',
      'output_blocks_1_1',
      'output_blocks_1_2_proj_in',
      'time_embed_1',
      'time_embed_0_0',
      'label_emb_1_0',
      'label_emb_0_1',
      'label_emb_0_0_0',
      'out_1',
      'out_0_0',
    ]) {
      assert.strictEqual(kohyaUnetPath(name), undefined, name);
    }
    assert.deepStrictEqual(reasons(['lora_unet_input_blocks_0_1.lora_down.weight']), {
      'lora_unet_input_blocks_0_1.lora_down.weight': 'compvis UNet name "input_blocks_0_1" has no diffusers equivalent',
    });
  });

  it('what is and is not a module of the UNet or the text encoder', () => {
    const unet = [
      'conv_in',
      'time_embedding.linear_2',
      'down_blocks.0.downsamplers.0.conv',
      'up_blocks.3.upsamplers.0.conv',
      'mid_block.resnets.0.conv1',
      'down_blocks.1.attentions.0.transformer_blocks.1.ff.net.2',
      'up_blocks.1.attentions.2.transformer_blocks.0.norm1',
    ];
    const notUnet = ['conv_in.weight', 'down_blocks.0.conv', 'mid_block.resnets.0.conv3', 'up_blocks.1.attentions.0.transformer_blocks.0.attn3.to_q', 'text_projection'];
    const text = ['text_model.encoder.layers.0.mlp.fc2', 'text_model.final_layer_norm', 'text_projection', 'text_model.embeddings.position_embedding'];
    const notText = ['text_model.encoder.layers.0.mlp.fc3', 'text_model.encoder.layers.x.mlp.fc1', 'conv_in', 'text_model.encoder.layers.0.self_attn.to_q'];
    assert.deepStrictEqual(
      [unet.map((p) => isDiffusersModulePath('unet', p)), notUnet.map((p) => isDiffusersModulePath('unet', p))],
      [unet.map(() => true), notUnet.map(() => false)],
    );
    assert.deepStrictEqual(
      [text.map((p) => isDiffusersModulePath('text_encoder_2', p)), notText.map((p) => isDiffusersModulePath('text_encoder', p))],
      [text.map(() => true), notText.map(() => false)],
    );
  });

  it('keys of other models and of no known form: each with its reason', () => {
    const down = (prefix: string) => `${prefix}.lora_down.weight`;
    assert.deepStrictEqual(
      reasons([
        down('lora_te3_encoder_block_0_layer_0_SelfAttention_q'),
        down('lora_te2_model_transformer_resblocks_0_attn_out_proj'),
        down('lora_te_1_model_transformer_resblocks_0_mlp_c_fc'),
        down('lora_prior_unet_down_blocks_0'),
        'transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight',
        'diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight',
        'base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight',
        'model.layers.0.q_proj.lora_A.weight',
        'text_encoder.text_model.encoder.layers.0.mlp.fc3.lora_A.weight',
        'unet.down_blocks.0.attentions.0.proj_x.lora_A.weight',
      ]),
      {
        [down('lora_te3_encoder_block_0_layer_0_SelfAttention_q')]: 'lora_te3_ (SD3 T5 text encoder) is not part of an SD1/SD2/SDXL model',
        [down('lora_te2_model_transformer_resblocks_0_attn_out_proj')]: 'OpenCLIP-native text-encoder name (fused in_proj): not supported',
        [down('lora_te_1_model_transformer_resblocks_0_mlp_c_fc')]: 'OpenCLIP-native text-encoder name (fused in_proj): not supported',
        [down('lora_prior_unet_down_blocks_0')]: 'unknown kohya prefix "lora_prior_" (not an SD1/SD2/SDXL UNet or text encoder)',
        'transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight': 'a FLUX/SD3/DiT transformer LoRA, not for an SD1/SD2/SDXL UNet',
        'diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight': 'a FLUX/SD3/DiT transformer LoRA, not for an SD1/SD2/SDXL UNet',
        'base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight':
          'a PEFT adapter for a model that is not an SD UNet or CLIP text encoder (FLUX/SD3-style names)',
        'model.layers.0.q_proj.lora_A.weight': 'no known prefix (lora_unet_, lora_te_, unet., text_encoder., a diffusers UNet path)',
        'text_encoder.text_model.encoder.layers.0.mlp.fc3.lora_A.weight': '"text_model.encoder.layers.0.mlp.fc3" is not a module of an SD1/SD2/SDXL CLIP text encoder',
        'unet.down_blocks.0.attentions.0.proj_x.lora_A.weight': '"down_blocks.0.attentions.0.proj_x" is not a module of an SD1/SD2/SDXL UNet',
      },
    );
  });

  it('PEFT adapters saved from the bare UNet or text encoder, and diffusers files without the pipeline prefix', () => {
    const map = mapped([
      'base_model.model.down_blocks.0.attentions.0.proj_in.lora_A.weight',
      'base_model.model.down_blocks.0.attentions.0.proj_in.lora_B.weight',
      'base_model.model.text_model.encoder.layers.2.mlp.fc1.lora_A.weight',
      'base_model.model.text_model.encoder.layers.2.mlp.fc1.lora_B.weight',
      'mid_block.attentions.0.proj_out.lora.down.weight',
      'mid_block.attentions.0.proj_out.lora.up.weight',
    ]);
    assert.deepStrictEqual(map.unmatched, []);
    assert.deepStrictEqual(
      map.modules.map((m) => [`${m.component}:${m.module}`, m.tensors]),
      [
        [
          'unet:down_blocks.0.attentions.0.proj_in',
          { down: 'base_model.model.down_blocks.0.attentions.0.proj_in.lora_A.weight', up: 'base_model.model.down_blocks.0.attentions.0.proj_in.lora_B.weight' },
        ],
        [
          'text_encoder:text_model.encoder.layers.2.mlp.fc1',
          { down: 'base_model.model.text_model.encoder.layers.2.mlp.fc1.lora_A.weight', up: 'base_model.model.text_model.encoder.layers.2.mlp.fc1.lora_B.weight' },
        ],
        ['unet:mid_block.attentions.0.proj_out', { down: 'mid_block.attentions.0.proj_out.lora.down.weight', up: 'mid_block.attentions.0.proj_out.lora.up.weight' }],
      ],
    );
  });

  it('recognised modules we cannot merge, embeddings bundled with the LoRA, and suffixes alone', () => {
    const p = 'lora_unet_down_blocks_0_attentions_0_proj_in';
    const keys = [
      `${p}.oft_diag`,
      `${p}.on_input`,
      `${p}.w_norm`,
      `${p}.b_norm`,
      `${p}.a1.weight`,
      `${p}.b2.weight`,
      `${p}.lora_up.bias`,
      `${p}.lora.down.bias`,
      `${p}.bias`,
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_custom_diffusion.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight',
      '<s1>',
      'string_to_param.*',
      'string_to_token',
      'clip_l',
      'clip_g',
      'bundle_emb.name.string_to_param.*',
      '.alpha',
      `${p}.lora_down.weight.extra`,
    ];
    const embedding = 'a textual-inversion embedding bundled with the LoRA, not a weight delta';
    assert.deepStrictEqual(reasons(keys), {
      [`${p}.oft_diag`]: 'OFT/BOFT modules are not supported',
      [`${p}.on_input`]: '(IA)³ modules are not supported',
      [`${p}.w_norm`]: 'LyCORIS norm-layer modules are not supported',
      [`${p}.b_norm`]: 'LyCORIS norm-layer modules are not supported',
      [`${p}.a1.weight`]: 'GLoRA modules are not supported',
      [`${p}.b2.weight`]: 'GLoRA modules are not supported',
      [`${p}.lora_up.bias`]: 'bias deltas of LoRA modules are not supported',
      [`${p}.lora.down.bias`]: 'bias deltas of LoRA modules are not supported',
      [`${p}.bias`]: 'bias deltas of LoRA modules are not supported',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_custom_diffusion.weight': 'custom-diffusion / IP-adapter weights are not a LoRA',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight': 'custom-diffusion / IP-adapter weights are not a LoRA',
      '<s1>': embedding,
      'string_to_param.*': embedding,
      'string_to_token': embedding,
      clip_l: embedding,
      clip_g: embedding,
      'bundle_emb.name.string_to_param.*': embedding,
      '.alpha': 'not a LoRA, LyCORIS or diff weight key',
      [`${p}.lora_down.weight.extra`]: 'not a LoRA, LyCORIS or diff weight key',
    });
  });

  it('modules that are not whole: each of their keys says what the module lacks', () => {
    const p = (name: string) => `lora_unet_down_blocks_0_attentions_0_${name}`;
    const keys = [
      `${p('proj_in')}.alpha`,
      `${p('proj_in')}.dora_scale`,
      `${p('proj_out')}.hada_w1_a`,
      `${p('proj_out')}.hada_w1_b`,
      `${p('proj_out')}.hada_w2_a`,
      `${p('norm')}.lokr_w1`,
      `${p('norm')}.lokr_w2_a`,
      `${p('transformer_blocks_0_attn1_to_q')}.lokr_w1_a`,
      `${p('transformer_blocks_0_attn1_to_q')}.lokr_w2`,
      `${p('transformer_blocks_0_attn1_to_k')}.diff_b`,
      `${p('transformer_blocks_0_attn1_to_v')}.lora_up.weight`,
      `${p('transformer_blocks_0_attn1_to_v')}.hada_w1_a`,
      `${p('transformer_blocks_0_attn1_to_v')}.diff`,
    ];
    const lokr = 'incomplete lokr module: needs lokr_w1 (or lokr_w1_a and lokr_w1_b) and lokr_w2 (or lokr_w2_a and lokr_w2_b)';
    const several = 'keys of several algorithms on one module (lora, loha, full)';
    assert.deepStrictEqual(reasons(keys), {
      [`${p('proj_in')}.alpha`]: 'only alpha/scale/dora_scale: the module has no weights',
      [`${p('proj_in')}.dora_scale`]: 'only alpha/scale/dora_scale: the module has no weights',
      [`${p('proj_out')}.hada_w1_a`]: 'incomplete loha module: needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b',
      [`${p('proj_out')}.hada_w1_b`]: 'incomplete loha module: needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b',
      [`${p('proj_out')}.hada_w2_a`]: 'incomplete loha module: needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b',
      [`${p('norm')}.lokr_w1`]: lokr,
      [`${p('norm')}.lokr_w2_a`]: lokr,
      [`${p('transformer_blocks_0_attn1_to_q')}.lokr_w1_a`]: lokr,
      [`${p('transformer_blocks_0_attn1_to_q')}.lokr_w2`]: lokr,
      [`${p('transformer_blocks_0_attn1_to_k')}.diff_b`]: 'incomplete full module: needs diff',
      [`${p('transformer_blocks_0_attn1_to_v')}.lora_up.weight`]: several,
      [`${p('transformer_blocks_0_attn1_to_v')}.hada_w1_a`]: several,
      [`${p('transformer_blocks_0_attn1_to_v')}.diff`]: several,
    });
  });

  it('LoKr modules whole in each of their forms; two keys for one role are refused, naming both', () => {
    const p = 'lora_unet_down_blocks_0_attentions_0_proj_in';
    const forms = [
      [`${p}.lokr_w1`, `${p}.lokr_w2`],
      [`${p}.lokr_w1_a`, `${p}.lokr_w1_b`, `${p}.lokr_w2`],
      [`${p}.lokr_w1`, `${p}.lokr_w2_a`, `${p}.lokr_w2_b`, `${p}.lokr_t2`],
    ];
    for (const keys of forms) assert.deepStrictEqual(mapped(keys).modules.map((m) => m.kind), ['lokr'], keys.join(' '));
    const peft = 'unet.down_blocks.0.attentions.0.proj_in.lora_A.weight';
    const clash = [`${p}.lora_down.weight`, `${p}.lora_up.weight`, peft];
    const both = `"${p}.lora_down.weight" and "${peft}" both give the down of unet:down_blocks.0.attentions.0.proj_in`;
    assert.deepStrictEqual(reasons(clash), { [clash[0]]: both, [clash[1]]: both, [clash[2]]: both });
  });

  it("cloneofsimo's format is refused as a whole, its bundled embeddings named as such", () => {
    const result = mapLoraKeys(['unet:0:up', 'unet:0:down', 'text_encoder:3:up', 'text_encoder:3:down', '<s1>']);
    assert.ok(isLoraKeyMapError(result));
    const format = "cloneofsimo's early LoRA format (unet:N:up / text_encoder:N:down keys)";
    assert.strictEqual(
      result.error,
      `${format} is not supported: its keys number the layers instead of naming them, so they cannot be placed in the model; convert it with cloneofsimo/lora's conversion script to the kohya or diffusers format`,
    );
    assert.deepStrictEqual(
      result.unmatched.map((u) => u.reason),
      [format, format, format, format, 'a textual-inversion embedding bundled with the LoRA, not a weight delta'],
    );
  });

  it('a key split into module and suffix for messages', () => {
    assert.deepStrictEqual(
      [
        'lora_unet_conv_in.lora_up.weight',
        'lora_unet_conv_in.hada_w1_a',
        'lora_unet_conv_in.lora_magnitude_vector.weight',
        'mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight',
        'something_else',
        '.alpha',
      ].map(splitTensorKey),
      [
        { module: 'lora_unet_conv_in', suffix: 'lora_up.weight' },
        { module: 'lora_unet_conv_in', suffix: 'hada_w1_a' },
        { module: 'lora_unet_conv_in', suffix: 'lora_magnitude_vector.weight' },
        { module: 'mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora', suffix: 'down.weight' },
        { module: 'something_else', suffix: '' },
        { module: '.alpha', suffix: '' },
      ],
    );
  });
});

describe('LoRA key mapping: each missing weight of a LoHa or LoRA module is named', () => {
  const p = 'lora_unet_down_blocks_0_attentions_0_proj_in';
  const LOHA = 'incomplete loha module: needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b';

  it('a LoHa module lacking any one of its four weights is refused, each key with the same reason', () => {
    const all = ['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b'];
    for (const absent of all) {
      const keys = all.filter((w) => w !== absent).map((w) => `${p}.${w}`);
      assert.deepStrictEqual(reasons(keys), Object.fromEntries(keys.map((k) => [k, LOHA])), `without ${absent}`);
    }
  });

  it('a LoRA module with only its up (or only its down) weight needs both', () => {
    for (const only of ['lora_up', 'lora_down']) {
      assert.deepStrictEqual(reasons([`${p}.${only}.weight`]), { [`${p}.${only}.weight`]: 'incomplete lora module: needs both up and down weights' });
    }
  });
});
