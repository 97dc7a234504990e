import * as assert from 'assert';
import { LdmTableEntry, ldmKeyTable, ldmKeys } from '../../../server/src/render/checkpoint/ldmKeyTable';
import { PipelineComponent, SdArchitecture } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointTensors, SD15_ARCHITECTURE, SD21_ARCHITECTURE, SDXL_ARCHITECTURE } from '../../../server/src/render/testModel/generateCheckpoint';
import { readFixture } from '../fixtures';

/**
 * The LDM ↔ diffusers tables at the released models' real sizes, checked against published facts:
 * - parameter and key counts of SD1.5, SD2.x and SDXL base as diffusers reports them and as the released files hold
 *   them (SD1.5: UNet 859,520,964 / CLIP-L 123,060,480 / VAE 83,653,863, 1,066,235,307 in all; SDXL base: UNet
 *   1680 keys and 2,567,463,684 parameters, OpenCLIP-bigG with projection 694,659,840; SD2: UNet 865,910,724, its
 *   23-layer diffusers text encoder 340,387,840) — the counts printed by `sum(p.numel())` in many public model cards
 *   and notebooks (e.g. the diffusers components of runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-xl-base-1.0);
 * - exact LDM key/shape pairs that A1111 (modules/sd_models_config.py) and ComfyUI (comfy/model_detection.py) read
 *   to detect a model;
 * - every module of two real kohya LoRAs (test/fixtures/lora/key_manifests, from InvokeAI's tests): an SD1.5 one
 *   named by diffusers paths, an SDXL one whose UNet modules are named by LDM paths, each with the real in/out
 *   widths of the module it patches.
 */
describe('LDM key table at real sizes', () => {
  function parameters(entries: { shape: number[] }[]): number {
    return entries.reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0);
  }

  function byComponent(arch: SdArchitecture, component: PipelineComponent): { shape: number[] }[] {
    // Per LDM key, so OpenCLIP's fused in_proj counts once at its full size.
    const keys = new Set(ldmKeyTable(arch).filter((e) => e.component === component).map((e) => e.ldmKey));
    return ldmKeys(ldmKeyTable(arch)).filter((k) => keys.has(k.key));
  }

  it('SD1.5: 686 UNet keys of 859,520,964 parameters, CLIP-L 196 of 123,060,480, the VAE 248 of 83,653,863', () => {
    const unet = byComponent(SD15_ARCHITECTURE, 'unet');
    const te = byComponent(SD15_ARCHITECTURE, 'text_encoder');
    const vae = checkpointTensors({ architecture: SD15_ARCHITECTURE, dtype: 'F16', seed: 1 }).filter((t) => t.key.startsWith('first_stage_model.'));
    assert.deepStrictEqual([unet.length, parameters(unet)], [686, 859_520_964]);
    assert.deepStrictEqual([te.length, parameters(te)], [196, 123_060_480]);
    assert.deepStrictEqual([vae.length, parameters(vae)], [248, 83_653_863]);
    assert.strictEqual(parameters(checkpointTensors({ architecture: SD15_ARCHITECTURE, dtype: 'F16', seed: 1 })), 1_066_235_307);
  });

  it('SDXL base: 1680 UNet keys of 2,567,463,684 parameters; CLIP-L 123,060,480; OpenCLIP-bigG 694,659,840', () => {
    const unet = byComponent(SDXL_ARCHITECTURE, 'unet');
    assert.deepStrictEqual([unet.length, parameters(unet)], [1680, 2_567_463_684]);
    assert.strictEqual(parameters(byComponent(SDXL_ARCHITECTURE, 'text_encoder')), 123_060_480);
    assert.strictEqual(parameters(byComponent(SDXL_ARCHITECTURE, 'text_encoder_2')), 694_659_840);
  });

  it('SD2.x: UNet 865,910,724; OpenCLIP-H is 340,387,840 without its last layer (as diffusers converts it)', () => {
    assert.strictEqual(parameters(byComponent(SD21_ARCHITECTURE, 'unet')), 865_910_724);
    const te = ldmKeys(ldmKeyTable(SD21_ARCHITECTURE)).filter((k) => k.key.startsWith('cond_stage_model.model.'));
    assert.ok(te.some((k) => k.key.startsWith('cond_stage_model.model.transformer.resblocks.23.')));
    assert.strictEqual(parameters(te.filter((k) => !k.key.includes('.resblocks.23.'))), 340_387_840);
  });

  it('holds the key/shape pairs A1111 and ComfyUI read to detect models', () => {
    const shapes = (arch: SdArchitecture) => new Map(checkpointTensors({ architecture: arch, dtype: 'F16', seed: 1 }).map((t) => [t.key, t.shape]));
    const sd15 = shapes(SD15_ARCHITECTURE);
    const sd2 = shapes(SD21_ARCHITECTURE);
    const sdxl = shapes(SDXL_ARCHITECTURE);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.input_blocks.0.0.weight'), [320, 4, 3, 3]);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.input_blocks.1.1.proj_in.weight'), [320, 320, 1, 1]);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight'), [320, 768]);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.output_blocks.2.1.conv.weight'), [1280, 1280, 3, 3]);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.output_blocks.5.2.conv.weight'), [1280, 1280, 3, 3]);
    assert.deepStrictEqual(sd15.get('model.diffusion_model.out.2.weight'), [4, 320, 3, 3]);
    assert.deepStrictEqual(sd15.get('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight'), [49408, 768]);
    assert.deepStrictEqual(sd15.get('first_stage_model.decoder.mid.attn_1.q.weight'), [512, 512, 1, 1]);
    assert.deepStrictEqual(sd15.get('first_stage_model.decoder.up.0.block.0.nin_shortcut.weight'), [128, 256, 1, 1]);
    assert.deepStrictEqual(sd15.get('first_stage_model.post_quant_conv.weight'), [4, 4, 1, 1]);
    assert.deepStrictEqual(sd2.get('cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight'), [3072, 1024]);
    assert.deepStrictEqual(sd2.get('model.diffusion_model.input_blocks.1.1.proj_in.weight'), [320, 320]);
    assert.deepStrictEqual(sd2.get('model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias'), [320]);
    assert.deepStrictEqual(sdxl.get('model.diffusion_model.label_emb.0.0.weight'), [1280, 2816]);
    assert.deepStrictEqual(sdxl.get('model.diffusion_model.input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight'), [640, 2048]);
    assert.deepStrictEqual(sdxl.get('model.diffusion_model.middle_block.1.transformer_blocks.9.ff.net.0.proj.weight'), [10240, 1280]);
    assert.deepStrictEqual(sdxl.get('conditioner.embedders.1.model.text_projection'), [1280, 1280]);
    assert.deepStrictEqual(sdxl.get('conditioner.embedders.1.model.ln_final.weight'), [1280]);
    assert.deepStrictEqual(sdxl.get('conditioner.embedders.0.transformer.text_model.encoder.layers.11.mlp.fc1.weight'), [3072, 768]);
  });

  type Manifest = Record<string, { shape: number[] }>;

  /** Each LoRA module: the `[out, in, ...kernel]` of the weight it patches, from its up and down shapes. */
  function loraModules(manifest: Manifest): Map<string, number[]> {
    const modules = new Map<string, number[]>();
    for (const [key, { shape }] of Object.entries(manifest)) {
      if (!key.endsWith('.lora_down.weight')) continue;
      const module = key.slice(0, -'.lora_down.weight'.length);
      const up = manifest[`${module}.lora_up.weight`].shape;
      modules.set(module, [up[0], ...shape.slice(1)]);
    }
    return modules;
  }

  function underscored(name: string): string {
    return name.replace(/\.weight$/, '').replace(/\./g, '_');
  }

  function assertEveryModuleFits(modules: Map<string, number[]>, lookup: Map<string, LdmTableEntry>): void {
    const misses: string[] = [];
    for (const [module, shape] of modules) {
      const entry = lookup.get(module);
      if (entry === undefined) misses.push(`${module}: not in the table`);
      // A LoRA on a 1×1 conv has a [r, in, 1, 1] down; our entry has the layer's own shape.
      else if (JSON.stringify(entry.shape.slice(0, shape.length)) !== JSON.stringify(shape) && JSON.stringify(entry.ldmShape.slice(0, shape.length)) !== JSON.stringify(shape)) {
        misses.push(`${module}: LoRA says [${shape}], table has [${entry.shape}] (LDM [${entry.ldmShape}])`);
      }
    }
    assert.deepStrictEqual(misses, []);
  }

  it('fits every module of a real SD1.5 kohya LoRA (diffusers names): 264 modules', () => {
    const modules = loraModules(readFixture<Manifest>('lora/key_manifests/sd15_kohya_lora__shinkai_makoto_offset.keys.json'));
    const lookup = new Map<string, LdmTableEntry>();
    for (const entry of ldmKeyTable(SD15_ARCHITECTURE)) {
      if (!entry.name.endsWith('.weight')) continue;
      const prefix = entry.component === 'unet' ? 'lora_unet_' : 'lora_te_';
      lookup.set(prefix + underscored(entry.name), entry);
    }
    assert.strictEqual(modules.size, 264);
    assertEveryModuleFits(modules, lookup);
  });

  it('fits every module of a real SDXL kohya LoRA (UNet by LDM names, both text encoders): 986 modules', () => {
    const modules = loraModules(readFixture<Manifest>('lora/key_manifests/sdxl_kohya_lora__Alien_Style.keys.json'));
    const lookup = new Map<string, LdmTableEntry>();
    for (const entry of ldmKeyTable(SDXL_ARCHITECTURE)) {
      if (!entry.name.endsWith('.weight')) continue;
      if (entry.component === 'unet') lookup.set('lora_unet_' + underscored(entry.ldmKey.slice('model.diffusion_model.'.length)), entry);
      if (entry.component === 'text_encoder') lookup.set('lora_te1_' + underscored(entry.name), entry);
      if (entry.component === 'text_encoder_2') lookup.set('lora_te2_' + underscored(entry.name), entry);
    }
    assert.strictEqual(modules.size, 986);
    assert.ok([...modules.keys()].some((m) => m.startsWith('lora_te2_')) && [...modules.keys()].some((m) => m.startsWith('lora_unet_output_blocks_')));
    assertEveryModuleFits(modules, lookup);
  });
});
