import { SdFamily, VaeDecoderArchitecture } from '../sdGraphs/architecture';
import { vaeDecoderFromShapes } from './architectureFromShapes';
import { CheckpointError } from './checkpointError';
import { CheckpointFile, openCheckpointFile } from './checkpointFile';
import { CheckpointWeights } from './checkpointWeights';
import { vaeTable, VAE_PREFIX } from './ldmKeyTable';

/**
 * A standalone VAE (A1111 `models/VAE/*.safetensors`, a `<checkpoint>.vae.safetensors` sidecar) in the LDM layout:
 * `decoder.*` and `post_quant_conv.*`, bare as the webui's VAE files have them or under `first_stage_model.`.
 * Only the decoder half is read. The family says the latent scale (SDXL's VAE has the same shapes as SD1's).
 */
export interface LoadedVae {
  file: CheckpointFile;
  architecture: VaeDecoderArchitecture;
  weights: CheckpointWeights;
}

export async function loadVae(path: string, family: SdFamily): Promise<LoadedVae> {
  const file = await openCheckpointFile(path);
  const keys = file.tensors;
  if ([...keys.keys()].some((k) => k.startsWith('model.diffusion_model.'))) {
    throw new CheckpointError('unknown-family', `${path} is a whole checkpoint (it has a UNet), not a VAE: choose it as the model, or pick a file from models/VAE`);
  }
  const prefix = keys.has(`${VAE_PREFIX}decoder.conv_in.weight`) ? VAE_PREFIX : keys.has('decoder.conv_in.weight') ? '' : undefined;
  if (prefix === undefined) {
    const diffusers = keys.has('decoder.up_blocks.0.resnets.0.conv1.weight');
    throw new CheckpointError(
      'unknown-family',
      diffusers
        ? `${path} is a VAE in diffusers' layout (decoder.up_blocks...); A1111 reads VAEs in the original layout (decoder.up...): use that version of the file`
        : `${path} is not a VAE: it has no "decoder.conv_in.weight"`,
    );
  }
  const architecture = vaeDecoderFromShapes(path, keys, family, prefix);
  const weights = new CheckpointWeights(file, vaeTable(architecture, prefix));
  weights.validate();
  return { file, architecture, weights };
}
