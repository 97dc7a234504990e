import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../../../server/src/render/checkpoint/checkpointError';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { loadVae } from '../../../server/src/render/checkpoint/vaeFile';
import { checkpointTensors, CheckpointSpec, TINY_SD1_ARCHITECTURE, TINY_SDXL_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { rewriteHeader } from './rewriteHeader';
import { useTempFolder } from './tempFolder';

/** A VAE chosen from its own file (models/VAE) in place of the checkpoint's, including for checkpoints shipped without one. */
describe('checkpoint with a chosen VAE', () => {
  const root = useTempFolder('sd-ckpt-vae-');

  /** A webui-style VAE file: the checkpoint's first_stage_model.* tensors under bare names (decoder.*, encoder.*, ...). */
  function vaeFile(name: string, spec: CheckpointSpec, keepPrefix = false): string {
    const file = path.join(root(), `${name}.safetensors`);
    writeCheckpoint(file, spec);
    rewriteHeader(file, (header) =>
      Object.fromEntries(
        Object.entries(header)
          .filter(([key]) => key.startsWith('first_stage_model.'))
          .map(([key, value]) => [keepPrefix ? key : key.slice('first_stage_model.'.length), value]),
      ),
    );
    return file;
  }

  function noVaeCheckpoint(name: string, spec: CheckpointSpec): string {
    const file = path.join(root(), `${name}.safetensors`);
    const omitKeys = checkpointTensors(spec).filter((t) => t.key.startsWith('first_stage_model.')).map((t) => t.key);
    writeCheckpoint(file, { ...spec, omitKeys });
    return file;
  }

  it('reads a bare-named VAE file\'s decoder, with the family\'s latent scale', async () => {
    const file = vaeFile('sdxl_vae', { architecture: TINY_SDXL_ARCHITECTURE, dtype: 'F16', seed: 4 });
    const vae = await loadVae(file, 'sdxl');
    assert.deepStrictEqual(vae.architecture, TINY_SDXL_ARCHITECTURE.vaeDecoder);
    assert.strictEqual(vae.architecture.scalingFactor, 0.13025);
    const ref = vae.weights.weight('vae_decoder', 'decoder.mid_block.attentions.0.to_q.weight');
    assert.ok('file' in ref.data && ref.data.file === file);
  });

  it('a checkpoint without a VAE names what to do; with a chosen VAE it loads and decodes with that file', async () => {
    const spec: CheckpointSpec = { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 };
    const checkpoint = noVaeCheckpoint('novae', spec);
    await assert.rejects(loadCheckpoint(checkpoint), (e: CheckpointError) => {
      assert.strictEqual(e.code, 'missing-key');
      assert.strictEqual(
        e.message,
        `${checkpoint} has no VAE decoder ("first_stage_model.decoder.up.0.*"): choose a VAE for it (sdPrompt.vae, or "VAE:" in the prompt's parameters)`,
      );
      return true;
    });
    const vae = vaeFile('vae-ft-mse', { ...spec, seed: 9 }, true);
    const loaded = await loadCheckpoint(checkpoint, { vae });
    assert.deepStrictEqual(loaded.architecture, TINY_SD1_ARCHITECTURE);
    const decoderWeight = loaded.weights.weight('vae_decoder', 'decoder.conv_in.weight');
    const unetWeight = loaded.weights.weight('unet', 'conv_in.weight');
    assert.ok('file' in decoderWeight.data && decoderWeight.data.file === vae);
    assert.ok('file' in unetWeight.data && unetWeight.data.file === checkpoint);
    assert.strictEqual(loaded.vae?.file.path, vae);
  });

  it('a chosen VAE replaces the checkpoint\'s own', async () => {
    const checkpoint = path.join(root(), 'with-vae.safetensors');
    writeCheckpoint(checkpoint, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 });
    const vae = vaeFile('other-vae', { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F32', seed: 5 });
    const loaded = await loadCheckpoint(checkpoint, { vae });
    const ref = loaded.weights.weight('vae_decoder', 'post_quant_conv.weight');
    assert.deepStrictEqual([ref.dtype, 'file' in ref.data && ref.data.file], ['float32', vae]);
  });

  it('refuses a checkpoint, a diffusers-layout VAE, or another file as the VAE, each saying so', async () => {
    const checkpoint = path.join(root(), 'model.safetensors');
    writeCheckpoint(checkpoint, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 });
    await assert.rejects(loadVae(checkpoint, 'sd1'), {
      message: `${checkpoint} is a whole checkpoint (it has a UNet), not a VAE: choose it as the model, or pick a file from models/VAE`,
    });
    const diffusers = vaeFile('diffusers-vae', { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 });
    rewriteHeader(diffusers, (header) => Object.fromEntries(Object.entries(header).map(([k, v]) => [k.replace(/^decoder\.up\.(\d+)\.block\./, 'decoder.up_blocks.$1.resnets.').replace('decoder.conv_in.', 'decoder.conv_in_'), v])));
    await assert.rejects(loadVae(diffusers, 'sd1'), {
      message: `${diffusers} is a VAE in diffusers' layout (decoder.up_blocks...); A1111 reads VAEs in the original layout (decoder.up...): use that version of the file`,
    });
    const other = path.join(root(), 'other.safetensors');
    fs.copyFileSync(diffusers, other);
    rewriteHeader(other, (header) => Object.fromEntries(Object.entries(header).map(([k, v]) => [`x.${k}`, v])));
    await assert.rejects(loadVae(other, 'sd1'), { message: `${other} is not a VAE: it has no "decoder.conv_in.weight"` });
  });
});
