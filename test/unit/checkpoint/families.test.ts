import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../../../server/src/render/checkpoint/checkpointError';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { SdArchitecture } from '../../../server/src/render/sdGraphs/architecture';
import {
  CheckpointDtype,
  TINY_SD1_ARCHITECTURE,
  TINY_SD2_ARCHITECTURE,
  TINY_SDXL_ARCHITECTURE,
  writeCheckpoint,
} from '../../../server/src/render/testModel/generateCheckpoint';
import { buildSafetensors, TensorSpec } from '../library/build';
import { renameKeys, rewriteHeader } from './rewriteHeader';
import { useTempFolder } from './tempFolder';

/** Family detection and architecture inference on generated LDM-layout files, and every family that is refused by name. */
describe('checkpoint families', () => {
  const root = useTempFolder('sd-ckpt-family-');

  function generate(name: string, architecture: SdArchitecture, dtype: CheckpointDtype = 'F16', extras = false): string {
    const file = path.join(root(), `${name}.safetensors`);
    writeCheckpoint(file, { architecture, dtype, seed: 7, extras });
    return file;
  }

  function headerOnly(name: string, tensors: TensorSpec[]): string {
    const file = path.join(root(), `${name}.safetensors`);
    fs.writeFileSync(file, buildSafetensors({}, tensors));
    return file;
  }

  async function refusal(file: string): Promise<CheckpointError> {
    try {
      await loadCheckpoint(file);
    } catch (reason) {
      assert.ok(reason instanceof CheckpointError, `a CheckpointError, got ${reason}`);
      return reason;
    }
    assert.fail(`${file} loaded`);
  }

  const cases: [string, SdArchitecture, CheckpointDtype][] = [
    ['sd1', TINY_SD1_ARCHITECTURE, 'F16'],
    ['sd2', TINY_SD2_ARCHITECTURE, 'BF16'],
    ['sdxl', TINY_SDXL_ARCHITECTURE, 'F32'],
  ];
  for (const [family, architecture, dtype] of cases) {
    it(`reads a ${family} checkpoint (${dtype}) as its exact architecture`, async () => {
      const loaded = await loadCheckpoint(generate(`${family}-${dtype}`, architecture, dtype, true));
      assert.deepStrictEqual(loaded.architecture, architecture);
      assert.deepStrictEqual(Object.keys(loaded.dtypes), [dtype]);
    });
  }

  it('applies A1111\'s constants: SD1 8 heads, SD2/SDXL 64-wide heads, GroupNorm 32, VAE scale per family', async () => {
    const sd1 = (await loadCheckpoint(generate('sd1-constants', TINY_SD1_ARCHITECTURE))).architecture;
    const sdxl = (await loadCheckpoint(generate('sdxl-constants', TINY_SDXL_ARCHITECTURE))).architecture;
    assert.deepStrictEqual(sd1.unet.heads, { count: 8 });
    assert.deepStrictEqual(sdxl.unet.heads, { headChannels: 64 });
    assert.strictEqual(sd1.unet.normGroups, 32);
    assert.strictEqual(sd1.vaeDecoder.scalingFactor, 0.18215);
    assert.strictEqual(sdxl.vaeDecoder.scalingFactor, 0.13025);
    assert.deepStrictEqual(
      sdxl.textEncoders.map((te) => [te.kind, te.activation, te.heads, te.projectionDim]),
      [
        ['clip', 'quick_gelu', 1, undefined],
        ['openclip', 'gelu', 2, 128],
      ],
    );
    // SDXL's label_emb takes the 128-wide pooled embedding and six 8-wide time-id sinusoids.
    assert.strictEqual(sdxl.unet.admInChannels, 176);
    assert.strictEqual(sdxl.unet.additionTimeEmbedDim, 8);
    assert.deepStrictEqual([sdxl.unet.transformerDepth, sdxl.unet.middleTransformerDepth, sdxl.unet.contextDim], [[0, 2], 2, 192]);
  });

  it('renames keys as A1111 does first: SD1 text encoders saved without text_model.', async () => {
    const file = generate('sd1-old-transformers', TINY_SD1_ARCHITECTURE);
    rewriteHeader(file, renameKeys((k) => (k.startsWith('cond_stage_model.transformer.text_model.') ? k.replace('text_model.', '') : undefined)));
    const loaded = await loadCheckpoint(file);
    assert.ok(loaded.file.tensors.has('cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight'));
    assert.deepStrictEqual(loaded.architecture, TINY_SD1_ARCHITECTURE);
  });

  it('renames keys as A1111 does first: SD 2.1 Turbo\'s SGM layout (conditioner.embedders.0.model with a 1024-wide ln_final)', async () => {
    const wide = { ...TINY_SD2_ARCHITECTURE, textEncoders: [{ ...TINY_SD2_ARCHITECTURE.textEncoders[0], width: 1024, heads: 16, ffWidth: 64, vocabSize: 8 }] };
    const architecture = { ...wide, unet: { ...wide.unet, contextDim: 1024 } };
    const file = generate('sd2-turbo', architecture);
    rewriteHeader(file, renameKeys((k) => (k.startsWith('cond_stage_model.') ? k.replace('cond_stage_model.', 'conditioner.embedders.0.') : undefined)));
    const loaded = await loadCheckpoint(file);
    assert.deepStrictEqual(loaded.architecture, architecture);
  });

  describe('v-prediction', () => {
    it('tells SD2 eps from v by the spread of the last output block\'s norm1 bias, as ComfyUI does (without A1111\'s UNet probe)', async () => {
      const eps = await loadCheckpoint(generate('sd2-eps', TINY_SD2_ARCHITECTURE), { sd2Probe: false });
      const v = await loadCheckpoint(generate('sd2-v', { ...TINY_SD2_ARCHITECTURE, prediction: 'v_prediction' }), { sd2Probe: false });
      assert.deepStrictEqual([eps.architecture.prediction, eps.predictionSource], ['epsilon', 'weights']);
      assert.deepStrictEqual([v.architecture.prediction, v.predictionSource], ['v_prediction', 'weights']);
    });

    it('takes parameterization from a sidecar <name>.yaml over the weights', async () => {
      const file = generate('sd2-sidecar', TINY_SD2_ARCHITECTURE);
      fs.writeFileSync(file.replace(/\.safetensors$/, '.yaml'), 'model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    parameterization: "v"\n');
      const loaded = await loadCheckpoint(file);
      assert.deepStrictEqual([loaded.architecture.prediction, loaded.predictionSource], ['v_prediction', 'sidecar']);
    });

    it('reads a sidecar without parameterization as eps (LDM\'s default)', async () => {
      const file = generate('sd2-sidecar-eps', { ...TINY_SD2_ARCHITECTURE, prediction: 'v_prediction' });
      fs.writeFileSync(file.replace(/\.safetensors$/, '.yaml'), 'model:\n  params:\n    linear_start: 0.00085\n');
      const loaded = await loadCheckpoint(file);
      assert.deepStrictEqual([loaded.architecture.prediction, loaded.predictionSource], ['epsilon', 'sidecar']);
    });

    it('names the line of a broken sidecar', async () => {
      const file = generate('sd2-sidecar-bad', TINY_SD2_ARCHITECTURE);
      const yaml = file.replace(/\.safetensors$/, '.yaml');
      fs.writeFileSync(yaml, 'model:\n  params:\n    parameterization: [v\n');
      const error = await refusal(file);
      assert.strictEqual(error.code, 'bad-config');
      assert.match(error.message, new RegExp(`^${yaml.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML`));
    });

    it('reads SDXL\'s v_pred key as v-prediction', async () => {
      const loaded = await loadCheckpoint(generate('sdxl-v', { ...TINY_SDXL_ARCHITECTURE, prediction: 'v_prediction' }));
      assert.deepStrictEqual([loaded.architecture.prediction, loaded.predictionSource], ['v_prediction', 'v_pred key']);
    });
  });

  describe('refused by name', () => {
    const unet = (inChannels: number): TensorSpec[] => [
      { name: 'model.diffusion_model.input_blocks.0.0.weight', shape: [32, inChannels, 3, 3] },
      { name: 'cond_stage_model.transformer.text_model.final_layer_norm.weight', shape: [64] },
    ];

    it('an SD1 inpainting model (9 input channels)', async () => {
      const file = generate('inpaint', { ...TINY_SD1_ARCHITECTURE, unet: { ...TINY_SD1_ARCHITECTURE.unet, inChannels: 9 } });
      const error = await refusal(file);
      assert.strictEqual(error.code, 'unsupported-family');
      assert.strictEqual(
        error.message,
        `${file} looks like an SD1 inpainting model (its UNet takes 9 input channels); sd-prompt renders SD1.x, SD2.x and SDXL base checkpoints only`,
      );
    });

    const named: [string, TensorSpec[], string][] = [
      ['instruct-pix2pix', unet(8), 'an InstructPix2Pix model (its UNet takes 8 input channels)'],
      ['flux', [{ name: 'model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale', shape: [4] }, { name: 'model.diffusion_model.single_blocks.0.linear1.weight', shape: [4, 4] }], 'FLUX'],
      ['sd3', [{ name: 'model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight', shape: [6, 2] }], 'Stable Diffusion 3'],
      ['cascade', [{ name: 'clf.1.weight', shape: [4, 4, 1, 1] }], 'Stable Cascade'],
      [
        'refiner',
        [...unet(4).slice(0, 1), { name: 'conditioner.embedders.0.model.ln_final.weight', shape: [1280] }],
        'the SDXL refiner (its only text encoder is OpenCLIP-bigG under conditioner.embedders.0)',
      ],
    ];
    for (const [name, tensors, family] of named) {
      it(name, async () => {
        const file = headerOnly(name, tensors);
        const error = await refusal(file);
        assert.strictEqual(error.code, 'unsupported-family');
        assert.ok(error.message.startsWith(`${file} looks like ${family}`), error.message);
        assert.ok(error.message.endsWith('sd-prompt renders SD1.x, SD2.x and SDXL base checkpoints only'), error.message);
      });
    }

    it('a LoRA passed as a checkpoint says where LoRAs go', async () => {
      const file = headerOnly('lora', [
        { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', shape: [4, 320] },
        { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', shape: [320, 4] },
        { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.alpha', shape: [] },
      ]);
      const error = await refusal(file);
      assert.strictEqual(error.code, 'lora');
      assert.strictEqual(error.message, `${file} is a LoRA (3 of its 3 tensors are LoRA weights), not a checkpoint: put it in models/Lora and use it in a prompt as <lora:NAME:1>`);
    });

    it('a VAE passed as a checkpoint says to choose it as the VAE', async () => {
      const file = headerOnly('vae', [
        { name: 'decoder.conv_in.weight', shape: [64, 4, 3, 3] },
        { name: 'decoder.up.0.block.0.conv1.weight', shape: [32, 32, 3, 3] },
        { name: 'post_quant_conv.weight', shape: [4, 4, 1, 1] },
      ]);
      const error = await refusal(file);
      assert.strictEqual(error.code, 'vae-only');
      assert.match(error.message, /is a VAE only \(it has no UNet\), not a checkpoint: choose it as the VAE \(sdPrompt\.vae, or "VAE:" in the prompt's parameters\)/);
    });

    it('a diffusers component file', async () => {
      const error = await refusal(headerOnly('diffusers-unet', [{ name: 'down_blocks.0.resnets.0.conv1.weight', shape: [4, 4, 3, 3] }]));
      assert.strictEqual(error.code, 'unknown-family');
      assert.match(error.message, /one component of a diffusers model .* use the whole model folder$/);
    });

    it('a text encoder alone', async () => {
      const error = await refusal(headerOnly('te', [{ name: 'cond_stage_model.transformer.text_model.final_layer_norm.weight', shape: [64] }]));
      assert.match(error.message, /holds a text encoder but no UNet \(no "model\.diffusion_model\.\*" keys\)/);
    });

    it('anything else', async () => {
      const file = headerOnly('other', [{ name: 'fc.weight', shape: [2, 2] }]);
      const error = await refusal(file);
      assert.strictEqual(error.message, `${file} is not a Stable Diffusion checkpoint: it has no UNet ("model.diffusion_model.*" keys)`);
    });

    it('a UNet with no text encoder it knows', async () => {
      const error = await refusal(headerOnly('unet-only', unet(4).slice(0, 1)));
      assert.strictEqual(error.code, 'missing-key');
      assert.match(error.message, /has a UNet but no text encoder sd-prompt knows/);
    });
  });
});
