import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  LoraCard,
  PREVIEW_SUFFIXES,
  baseModelFromKeys,
  describeLora,
  detectKind,
  loadLoraCard,
  topTags,
} from '../../../server/src/service/library/loraCard';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { SafetensorsCache, SafetensorsHeader, SafetensorsTensor, isSafetensorsError, parseHeaderJson } from '../../../server/src/service/library/safetensors';

import { FIXTURES, fixtureBytes } from '../fixtures';

async function cardOfFixture(relative: string, memory = new MemoryFileSystem(), at = '/lora/x.safetensors'): Promise<LoraCard> {
  memory.writeFile(at, fixtureBytes(relative));
  const card = await loadLoraCard(memory, at, new SafetensorsCache());
  if (isSafetensorsError(card)) throw new Error(card.error);
  return card;
}

/**
 * A header built from an InvokeAI key manifest (key → {shape, dtype}) with consecutive offsets, so
 * the full validation runs without allocating the hundreds of MB of tensor data.
 */
function headerFromManifest(relative: string): SafetensorsHeader {
  const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, relative), 'utf8')) as Record<string, { shape?: number[]; dtype?: string; format?: string }>;
  const dtypes: Record<string, [string, number]> = { 'torch.bfloat16': ['BF16', 2], 'torch.float16': ['F16', 2], 'torch.float32': ['F32', 4] };
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, entry] of Object.entries(manifest)) {
    if (entry.shape === undefined || entry.dtype === undefined) {
      header['__metadata__'] = entry; // `metadata_key_for_stripped_models`: the file's own metadata
      continue;
    }
    const [dtype, width] = dtypes[entry.dtype];
    const size = entry.shape.reduce((a, b) => a * b, 1) * width;
    header[key] = { dtype, shape: entry.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = JSON.stringify(header);
  const length = Buffer.byteLength(json);
  const parsed = parseHeaderJson(json, length, 8 + length + offset);
  if (isSafetensorsError(parsed)) throw new Error(parsed.error);
  return parsed;
}

const tensor = (name: string, shape: number[] = [4, 8]): SafetensorsTensor => ({ name, dtype: 'F16', shape, begin: 0, end: 0 });

/** 8-byte length + JSON header + data for a hand-made LoRA, with `alpha` stored in an F16 `.alpha` tensor. */
function tinyKohyaLora(metadata: Record<string, string>, alphaHalfBits = 0x4800 /* 8.0 */): Uint8Array {
  const header = {
    ...(Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {}),
    'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.alpha': { dtype: 'F16', shape: [], data_offsets: [0, 2] },
    'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': { dtype: 'F16', shape: [4, 768], data_offsets: [2, 6146] },
    'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': { dtype: 'F16', shape: [1280, 4], data_offsets: [6146, 16386] },
  };
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + 16386);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  view.setUint16(8 + json.length, alphaHalfBits, true);
  return out;
}

const SFALCON_TOP_TAGS = [
  { word: 'smart falcon \\(umamusume\\)', source: 'tag frequency' },
  { word: 'hair bow', source: 'tag frequency' },
  { word: 'looking at viewer', source: 'tag frequency' },
  { word: 'hair ribbon', source: 'tag frequency' },
  { word: 'blush', source: 'tag frequency' },
];

describe('LoRA card', () => {
  describe('real files', () => {
    const lycoris: Array<[string, number, string, string]> = [
      ['smart_falcon_4_lokr', 4, 'smart_falcon_lokr_3.0e-4', '150ef207aad0'],
      ['smart_falcon_8_lokr', 8, 'smart_falcon_8_lokr', '1383de391583'],
      ['smart_falcon_16_lokr', 16, 'smart_falcon_16_lokr', '51a16c07bdd8'],
    ];
    for (const [file, dim, outputName, hash] of lycoris) {
      it(`LyCORIS ${file}: LoKr, kohya keys, rank/alpha from metadata, SD1 from ss_v2`, async () => {
        assert.deepStrictEqual(await cardOfFixture(`lora/lycoris/${file}.safetensors`), {
          kind: 'LoKr',
          keyStyle: 'kohya',
          rank: dim,
          alpha: dim,
          baseModel: 'SD1',
          baseModelSource: 'ss_v2',
          trainingModel: 'animefull-final-pruned.safetensors',
          outputName,
          triggerWords: SFALCON_TOP_TAGS,
          sshsHash: hash,
          tensorCount: 1750,
          warnings: [],
        });
      });
    }

    it('LoKr keys alone also say SD1: kron of the factors gives cross-attention input 768', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/f.safetensors', fixtureBytes('lora/lycoris/smart_falcon_16_lokr.safetensors'));
      const header = await new SafetensorsCache().read(memory, '/f.safetensors');
      assert.ok(!isSafetensorsError(header));
      assert.deepStrictEqual(baseModelFromKeys(header.tensors), { base: 'SD1', detail: 'cross-attention to_k input width 768' });
    });

    const CLONEOFSIMO_WARNING =
      "cloneofsimo's early LoRA format (unet:N:up / text_encoder:N:down keys): AUTOMATIC1111 cannot map these keys and skips them silently";
    for (const [file, rank, count] of [['analog_svd_rank4', 4, 384], ['lora_disney', 1, 386], ['lora_disney_inpainting', 1, 386]] as const) {
      it(`cloneofsimo ${file}: cloneofsimo keys with a warning, SD1 from the text encoder width`, async () => {
        assert.deepStrictEqual(await cardOfFixture(`lora/cloneofsimo/${file}.safetensors`), {
          kind: 'LoRA',
          keyStyle: 'cloneofsimo',
          rank,
          baseModel: 'SD1',
          baseModelSource: 'keys',
          triggerWords: [],
          tensorCount: count,
          warnings: [CLONEOFSIMO_WARNING],
        });
      });
    }

    it('diffusers attention processors: keyStyle diffusers-attn-processor, SD1 from attn2 to_k width', async () => {
      assert.deepStrictEqual(await cardOfFixture('lora/diffusers/catundchat_sd15_attnprocs_f32.safetensors'), {
        kind: 'LoRA',
        keyStyle: 'diffusers-attn-processor',
        rank: 4,
        baseModel: 'SD1',
        baseModelSource: 'keys',
        triggerWords: [],
        tensorCount: 256,
        warnings: ['diffusers attention-processor keys (processor.to_k_lora.down.weight): AUTOMATIC1111 cannot map these keys and skips them silently'],
      });
    });

    it('textual-inversion embedding: not a LoRA', async () => {
      assert.deepStrictEqual(await cardOfFixture('embeddings/invokeai_test_embedding.safetensors'), {
        kind: 'unknown',
        keyStyle: 'unknown',
        baseModel: 'unknown',
        baseModelSource: 'none',
        triggerWords: [],
        tensorCount: 1,
        warnings: ['no LoRA weights: this looks like a textual-inversion embedding'],
      });
    });

    it('a safetensors file that is not a network at all', async () => {
      const card = await cardOfFixture('safetensors/overall.safetensors');
      assert.strictEqual(card.kind, 'unknown');
      assert.deepStrictEqual(card.warnings, ['no LoRA weights: no key ends like a LoRA, LyCORIS or diff weight']);
    });

    it('a broken file gives the header error', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/lora/broken.safetensors', new Uint8Array(4));
      assert.deepStrictEqual(await loadLoraCard(memory, '/lora/broken.safetensors', new SafetensorsCache()), {
        error: 'file is 4 bytes, shorter than the 8-byte header length',
      });
    });
  });

  describe('key manifests', () => {
    it('SDXL kohya (lora_te1_/lora_te2_, bf16): SDXL from keys, rank 32', () => {
      assert.deepStrictEqual(describeLora(headerFromManifest('lora/key_manifests/sdxl_kohya_lora__Alien_Style.keys.json')), {
        kind: 'LoRA',
        keyStyle: 'kohya',
        rank: 32,
        baseModel: 'SDXL',
        baseModelSource: 'keys',
        triggerWords: [],
        tensorCount: 2958,
        warnings: [],
      });
    });

    it('SDXL keys also show cross-attention width 2048 without the text encoders', () => {
      const unetOnly = headerFromManifest('lora/key_manifests/sdxl_kohya_lora__Alien_Style.keys.json').tensors.filter((t) => t.name.startsWith('lora_unet_'));
      assert.deepStrictEqual(baseModelFromKeys(unetOnly), { base: 'SDXL', detail: 'cross-attention to_k input width 2048' });
    });

    it('SD1.5 kohya (1×1 conv proj_in is still plain LoRA, not LoCon): rank 128, SD1', () => {
      const card = describeLora(headerFromManifest('lora/key_manifests/sd15_kohya_lora__shinkai_makoto_offset.keys.json'));
      assert.deepStrictEqual([card.kind, card.keyStyle, card.rank, card.baseModel, card.baseModelSource, card.tensorCount], ['LoRA', 'kohya', 128, 'SD1', 'keys', 792]);
    });

    it('FLUX PEFT: keyStyle peft with the A1111 warning, base other', () => {
      assert.deepStrictEqual(describeLora(headerFromManifest('lora/key_manifests/flux_peft_lora__peft_adapter_model.keys.json')), {
        kind: 'LoRA',
        keyStyle: 'peft',
        rank: 4,
        baseModel: 'other',
        baseModelSource: 'keys',
        triggerWords: [],
        tensorCount: 762,
        warnings: [
          'PEFT/diffusers keys (lora_A/lora_B or .lora.down/.lora.up): AUTOMATIC1111 skips keys it cannot map without any message, so this LoRA may do nothing there',
        ],
      });
    });
  });

  describe('kind from key suffixes', () => {
    const kindOf = (...names: Array<string | SafetensorsTensor>) => detectKind(names.map((n) => (typeof n === 'string' ? tensor(n) : n)));
    it('each algorithm', () => {
      assert.strictEqual(kindOf('lora_unet_a.lora_down.weight', 'lora_unet_a.lora_up.weight'), 'LoRA');
      assert.strictEqual(kindOf(tensor('lora_unet_a.lora_down.weight', [4, 320, 3, 3])), 'LoCon');
      assert.strictEqual(kindOf('lora_unet_a.lora_down.weight', 'lora_unet_a.lora_mid.weight'), 'LoCon');
      assert.strictEqual(kindOf('lora_unet_down_blocks_0_resnets_0_time_emb_proj.lora_down.weight'), 'LoCon');
      assert.strictEqual(kindOf('unet.a.lora_A.weight', 'unet.a.lora_B.weight'), 'LoRA');
      assert.strictEqual(kindOf('unet.a.lora.down.weight'), 'LoRA');
      assert.strictEqual(kindOf('lora_unet_a.hada_w1_a', 'lora_unet_a.hada_w1_b'), 'LoHa');
      assert.strictEqual(kindOf('lora_unet_a.lokr_w1', 'lora_unet_a.lokr_w2'), 'LoKr');
      assert.strictEqual(kindOf('lora_unet_a.diff', 'lora_unet_a.diff_b'), 'full');
      assert.strictEqual(kindOf('lora_unet_a.lora_down.weight', 'lora_unet_a.dora_scale'), 'DoRA');
      assert.strictEqual(kindOf('lora_unet_a.weight', 'lora_unet_a.on_input'), 'IA3');
      assert.strictEqual(kindOf('lora_unet_a.oft_blocks'), 'OFT');
      assert.strictEqual(kindOf('lora_unet_a.oft_diag'), 'OFT');
      assert.strictEqual(kindOf('emb_params'), 'unknown');
    });
  });

  describe('base model evidence order', () => {
    const sd1Keys = [tensor('lora_unet_a_attn2_to_k.lora_down.weight', [4, 768])];
    const cases: Array<[string, Record<string, string>, string, string]> = [
      ['ss_base_model_version sdxl', { ss_base_model_version: 'sdxl_base_v1-0' }, 'SDXL', 'ss_base_model_version'],
      ['ss_base_model_version sd_v2', { ss_base_model_version: 'sd_v2' }, 'SD2', 'ss_base_model_version'],
      ['ss_base_model_version flux', { ss_base_model_version: 'flux1' }, 'other', 'ss_base_model_version'],
      ['modelspec SD1', { 'modelspec.architecture': 'stable-diffusion-v1/lora' }, 'SD1', 'modelspec.architecture'],
      ['modelspec SDXL', { 'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora' }, 'SDXL', 'modelspec.architecture'],
      ['modelspec FLUX', { 'modelspec.architecture': 'flux-1-dev/lora' }, 'other', 'modelspec.architecture'],
      ['ss_v2 True', { ss_v2: 'True' }, 'SD2', 'ss_v2'],
      ['metadata beats ss_v2', { ss_v2: 'False', ss_base_model_version: 'sd_v1' }, 'SD1', 'ss_base_model_version'],
    ];
    for (const [label, metadata, base, source] of cases) {
      it(label, () => {
        const card = describeLora({ metadata, tensors: [] });
        assert.deepStrictEqual([card.baseModel, card.baseModelSource], [base, source]);
      });
    }

    it('civitai baseModel labels when nothing else tells', () => {
      const labels: Array<[string, string]> = [['SD 1.5', 'SD1'], ['SD 2.1 768', 'SD2'], ['SDXL 1.0', 'SDXL'], ['Pony', 'SDXL'], ['Illustrious', 'SDXL'], ['Flux.1 D', 'other']];
      for (const [label, base] of labels) {
        const card = describeLora({ metadata: {}, tensors: [] }, { civitaiInfo: { baseModel: label } });
        assert.deepStrictEqual([card.baseModel, card.baseModelSource], [base, 'civitai baseModel'], label);
      }
    });

    it('the sidecar sd version wins ("Unknown" is ignored); a label contradicting the keys is a warning', () => {
      const sidecar = describeLora({ metadata: { ss_base_model_version: 'sd_v1' }, tensors: sd1Keys }, { userMetadata: { 'sd version': 'SDXL' } });
      assert.deepStrictEqual([sidecar.baseModel, sidecar.baseModelSource], ['SDXL', 'sidecar sd version']);
      assert.deepStrictEqual(sidecar.warnings, ['sidecar sd version says SDXL ("SDXL") but the keys look like SD1 (cross-attention to_k input width 768)']);
      const unknown = describeLora({ metadata: {}, tensors: sd1Keys }, { userMetadata: { 'sd version': 'Unknown' } });
      assert.deepStrictEqual([unknown.baseModel, unknown.baseModelSource, unknown.warnings], ['SD1', 'keys', []]);
    });

    it('cross-attention widths: 768 SD1, 1024 SD2, 2048 SDXL; FLUX transformer keys other', () => {
      const widths: Array<[number, string]> = [[768, 'SD1'], [1024, 'SD2'], [2048, 'SDXL']];
      for (const [width, base] of widths) {
        assert.strictEqual(baseModelFromKeys([tensor('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight', [4, width])])?.base, base);
      }
      assert.deepStrictEqual(baseModelFromKeys([tensor('transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight')]), { base: 'other', detail: 'FLUX transformer keys' });
      assert.deepStrictEqual(baseModelFromKeys([tensor('lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight')]), { base: 'other', detail: 'FLUX transformer keys' });
      assert.strictEqual(baseModelFromKeys([tensor('lora_unet_a.lora_down.weight', [4, 999])]), undefined);
    });
  });

  describe('trigger words', () => {
    it('priority order: activation text, civitai, modelspec, then top tags; deduped ignoring case', () => {
      const tagFrequency = JSON.stringify({ '10_a': { solo: 3, 'Red Hair': 5, smile: 1 }, '5_b': { solo: 4, hat: 2 } });
      const card = describeLora(
        { metadata: { 'modelspec.trigger_phrase': 'mspec word, red hair', ss_tag_frequency: tagFrequency }, tensors: [] },
        { userMetadata: { 'activation text': ' act one ,act two,, ' }, civitaiInfo: { trainedWords: ['civ word, Act One', 'solo'] } },
      );
      assert.deepStrictEqual(card.triggerWords, [
        { word: 'act one', source: 'activation text' },
        { word: 'act two', source: 'activation text' },
        { word: 'civ word', source: 'civitai trainedWords' },
        { word: 'solo', source: 'civitai trainedWords' },
        { word: 'mspec word', source: 'modelspec.trigger_phrase' },
        { word: 'red hair', source: 'modelspec.trigger_phrase' },
        { word: 'hat', source: 'tag frequency' },
        { word: 'smile', source: 'tag frequency' },
      ]);
    });

    it('top tags sum counts over folders; ties keep first-seen order; bad JSON warns', () => {
      const warnings: string[] = [];
      assert.deepStrictEqual(topTags(JSON.stringify({ a: { x: 1, y: 2, z: 2 }, b: { x: 3 } }), 2, warnings), ['x', 'y']);
      assert.deepStrictEqual(topTags('{not json', 5, warnings), []);
      assert.deepStrictEqual(warnings, ['ss_tag_frequency is not a JSON object; no tags taken from it']);
    });
  });

  describe('sidecars on disk', () => {
    const LYCORIS = 'lora/lycoris/smart_falcon_8_lokr.safetensors';

    it('A1111 <name>.json and civitai <name>.civitai.info', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile(
        '/lora/falcon.json',
        JSON.stringify({
          description: 'Smart Falcon from Uma Musume',
          'sd version': 'SD1',
          'activation text': 'smf girl, smart falcon \\(umamusume\\)',
          'preferred weight': 0.7,
          'negative text': 'bad hands',
          notes: 'works best at 0.6-0.8',
        }),
      );
      memory.writeFile(
        '/lora/falcon.civitai.info',
        JSON.stringify({ trainedWords: ['smart falcon', 'hair bow'], baseModel: 'SD 1.5', description: '<p>civitai text</p>', model: { name: 'Smart Falcon LoKr' } }),
      );
      const card = await cardOfFixture(LYCORIS, memory, '/lora/falcon.safetensors');
      assert.deepStrictEqual(card, {
        kind: 'LoKr',
        keyStyle: 'kohya',
        rank: 8,
        alpha: 8,
        baseModel: 'SD1',
        baseModelSource: 'sidecar sd version',
        trainingModel: 'animefull-final-pruned.safetensors',
        outputName: 'smart_falcon_8_lokr',
        triggerWords: [
          { word: 'smf girl', source: 'activation text' },
          { word: 'smart falcon \\(umamusume\\)', source: 'activation text' },
          { word: 'smart falcon', source: 'civitai trainedWords' },
          { word: 'hair bow', source: 'civitai trainedWords' },
          { word: 'looking at viewer', source: 'tag frequency' },
          { word: 'hair ribbon', source: 'tag frequency' },
          { word: 'blush', source: 'tag frequency' },
        ],
        preferredWeight: 0.7,
        description: 'Smart Falcon from Uma Musume',
        negativeText: 'bad hands',
        notes: 'works best at 0.6-0.8',
        civitaiName: 'Smart Falcon LoKr',
        sshsHash: '1383de391583',
        tensorCount: 1750,
        warnings: [],
      });
    });

    it('preferred weight 0 means unset; civitai description is the fallback; broken sidecar JSON is a warning', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/lora/falcon.json', JSON.stringify({ 'preferred weight': 0, 'activation text': '', 'sd version': 'Unknown' }));
      memory.writeFile('/lora/falcon.civitai.info', '{"trainedWords": [');
      let card = await cardOfFixture(LYCORIS, memory, '/lora/falcon.safetensors');
      assert.strictEqual(card.preferredWeight, undefined);
      assert.strictEqual(card.baseModelSource, 'ss_v2');
      assert.deepStrictEqual(card.warnings, ['falcon.civitai.info is not a JSON object; ignored']);
      memory.writeFile('/lora/falcon.civitai.info', JSON.stringify({ description: 'from civitai' }));
      card = await cardOfFixture(LYCORIS, memory, '/lora/falcon.safetensors');
      assert.deepStrictEqual([card.description, card.warnings], ['from civitai', []]);
    });

    it('preview lookup order', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/lora/falcon.safetensors', fixtureBytes(LYCORIS));
      for (const suffix of PREVIEW_SUFFIXES) memory.writeFile(`/lora/falcon${suffix}`, 'img');
      memory.writeFile('/lora/other.png', 'img');
      const found: string[] = [];
      for (let i = 0; i < PREVIEW_SUFFIXES.length; i++) {
        const card = await loadLoraCard(memory, '/lora/falcon.safetensors', new SafetensorsCache());
        assert.ok(!isSafetensorsError(card));
        found.push(card.previewPath ?? '');
        memory.remove(card.previewPath ?? '');
      }
      assert.deepStrictEqual(found, [
        '/lora/falcon.preview.png',
        '/lora/falcon.png',
        '/lora/falcon.jpg',
        '/lora/falcon.jpeg',
        '/lora/falcon.webp',
        '/lora/falcon.preview.jpg',
        '/lora/falcon.preview.jpeg',
        '/lora/falcon.preview.webp',
        '/lora/falcon.gif',
        '/lora/falcon.preview.gif',
      ]);
      const none = await loadLoraCard(memory, '/lora/falcon.safetensors', new SafetensorsCache());
      assert.ok(!isSafetensorsError(none));
      assert.strictEqual(none.previewPath, undefined);
    });

    it('alpha from the first .alpha tensor when the metadata has none; metadata alpha wins without reading it', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/lora/tiny.safetensors', tinyKohyaLora({}));
      const card = await loadLoraCard(memory, '/lora/tiny.safetensors', new SafetensorsCache());
      assert.ok(!isSafetensorsError(card));
      assert.deepStrictEqual([card.kind, card.keyStyle, card.rank, card.alpha, card.baseModel, card.baseModelSource], ['LoRA', 'kohya', 4, 8, 'SD1', 'keys']);

      memory.writeFile('/lora/meta.safetensors', tinyKohyaLora({ ss_network_alpha: '2.5', ss_network_dim: '4' }));
      memory.readLog.length = 0;
      const withMetadata = await loadLoraCard(memory, '/lora/meta.safetensors', new SafetensorsCache());
      assert.ok(!isSafetensorsError(withMetadata));
      assert.strictEqual(withMetadata.alpha, 2.5);
      assert.strictEqual(memory.readLog.length, 2, 'only the length prefix and the header');
    });

    it('an unlistable folder only loses the sidecars', async () => {
      const memory = new MemoryFileSystem();
      memory.writeFile('/lora/falcon.preview.png', 'img');
      memory.setUnreadable('/lora');
      const card = await cardOfFixture(LYCORIS, memory, '/lora/falcon.safetensors');
      assert.deepStrictEqual([card.kind, card.previewPath], ['LoKr', undefined]);
    });
  });
});
