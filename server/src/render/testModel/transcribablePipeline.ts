import * as fs from 'fs';
import * as path from 'path';
import { ModelBuilder } from '../onnx/onnxWriter';
import { randomNormal } from './net';
import { copyTokenizer, diffusersSchedulerConfig, writeJson } from './generateModel';

/**
 * A pipeline in the diffusers ONNX layout whose three networks are small closed-form functions, so
 * that a numpy script can compute exactly what a render with it must give (scripts/golden/txt2img.py):
 * the render tests then check the loop (conditioning, CFG, prompt-editing schedule, samplers,
 * decoding) against an independent transcription instead of against itself. The random-weight
 * pipelines of generateModel.ts are real architectures, too big to transcribe.
 *
 *   text encoder  last_hidden_state = (token_embedding[input_ids] + position_embedding) · W + b
 *   UNet          out_sample = a·sample + reshape(mean_seq(encoder_hidden_states) · P + t·tcoef, [1, 4, 1, 1])
 *   VAE decoder   sample = nearest ×8 upsampling of conv1×1(latent_sample; vae_weight, vae_bias)
 *
 * Every weight comes from `transcribableWeights` (seeded), which the golden-input writer also saves
 * as .npy for the script. The hidden states' bias keeps their mean near 1, away from 0, so
 * A1111's emphasis mean restore (original_mean / new_mean) is well conditioned.
 */
export const TRANSCRIBABLE_WIDTH = 8;
const VOCAB = 49408;
const POSITIONS = 77;

export interface TranscribableWeight {
  data: Float32Array;
  dims: number[];
}

/** The pipeline's weights by name (the names the script reads: `<name>.npy`). */
export function transcribableWeights(seed = 7): Record<string, TranscribableWeight> {
  const D = TRANSCRIBABLE_WIDTH;
  const random = (name: string, dims: number[], std: number, offset = 0): TranscribableWeight => {
    const data = randomNormal(seed, name, dims.reduce((a, b) => a * b, 1), std);
    if (offset) for (let i = 0; i < data.length; i++) data[i] = Math.fround(data[i] + offset);
    return { data, dims };
  };
  return {
    token_embedding: random('token_embedding', [VOCAB, D], 1),
    position_embedding: random('position_embedding', [POSITIONS, D], 0.1),
    text_weight: random('text_weight', [D, D], 1 / Math.sqrt(D)),
    text_bias: random('text_bias', [D], 0.2, 1),
    unet_sample_scale: { data: Float32Array.of(0.95), dims: [] },
    unet_context_weight: random('unet_context_weight', [D, 4], 0.05),
    unet_timestep_weight: random('unet_timestep_weight', [4], 0.0001),
    vae_weight: random('vae_weight', [3, 4, 1, 1], 0.03),
    vae_bias: random('vae_bias', [3], 0.05),
  };
}

function textEncoder(w: Record<string, TranscribableWeight>): ModelBuilder {
  const model = new ModelBuilder(17, 'main_graph');
  const g = model.graph;
  const init = (name: string) => g.initializer(name, w[name].data, w[name].dims);
  g.input('input_ids', 'int32', ['batch_size', 'sequence_length']);
  g.node('Gather', [init('token_embedding'), 'input_ids'], ['tokens'], {}, '/embeddings/Gather');
  g.node('Add', ['tokens', init('position_embedding')], ['embedded'], {}, '/embeddings/Add');
  g.node('MatMul', ['embedded', init('text_weight')], ['projected'], {}, '/linear/MatMul');
  g.node('Add', ['projected', init('text_bias')], ['last_hidden_state'], {}, '/linear/Add');
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', TRANSCRIBABLE_WIDTH]);
  return model;
}

function unet(w: Record<string, TranscribableWeight>): ModelBuilder {
  const model = new ModelBuilder(17, 'main_graph');
  const g = model.graph;
  const init = (name: string) => g.initializer(name, w[name].data, w[name].dims);
  g.input('sample', 'float32', ['batch_size', 4, 'height', 'width']);
  g.input('timestep', 'float32', ['steps']);
  g.input('encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', TRANSCRIBABLE_WIDTH]);
  g.node('ReduceMean', ['encoder_hidden_states'], ['context_mean'], { axes: [1], keepdims: 0 }, '/context/ReduceMean');
  g.node('MatMul', ['context_mean', init('unet_context_weight')], ['context_term'], {}, '/context/MatMul');
  g.node('Mul', ['timestep', init('unet_timestep_weight')], ['timestep_term'], {}, '/timestep/Mul');
  g.node('Add', ['context_term', 'timestep_term'], ['channel_term'], {}, '/Add');
  const shape = g.initializer('channel_shape', BigInt64Array.of(-1n, 4n, 1n, 1n), [4]);
  g.node('Reshape', ['channel_term', shape], ['channel_offsets'], {}, '/Reshape');
  g.node('Mul', ['sample', init('unet_sample_scale')], ['scaled_sample'], {}, '/sample/Mul');
  g.node('Add', ['scaled_sample', 'channel_offsets'], ['out_sample'], {}, '/out/Add');
  g.output('out_sample', 'float32', ['batch_size', 4, 'height', 'width']);
  return model;
}

function vaeDecoder(w: Record<string, TranscribableWeight>): ModelBuilder {
  const model = new ModelBuilder(17, 'main_graph');
  const g = model.graph;
  const init = (name: string) => g.initializer(name, w[name].data, w[name].dims);
  g.input('latent_sample', 'float32', ['batch_size', 4, 'latent_height', 'latent_width']);
  g.node('Conv', ['latent_sample', init('vae_weight'), init('vae_bias')], ['pixels'], { kernel_shape: [1, 1] }, '/conv/Conv');
  const scales = g.initializer('upscale', Float32Array.of(1, 1, 8, 8), [4]);
  g.node('Resize', ['pixels', '', scales], ['sample'], {
    coordinate_transformation_mode: 'asymmetric',
    mode: 'nearest',
    nearest_mode: 'floor',
  }, '/upsample/Resize');
  g.output('sample', 'float32', ['batch_size', 3, 'height', 'width']);
  return model;
}


/**
 * Writes the pipeline into `folder` (created if needed): SD1 layout, SD's scheduler config, CLIP's
 * tokenizer files copied from `tokenizerFrom`. Same seed, same files.
 */
export function generateTranscribablePipeline(folder: string, tokenizerFrom: string, seed = 7): Record<string, TranscribableWeight> {
  const weights = transcribableWeights(seed);
  const graphs: [string, ModelBuilder][] = [
    ['text_encoder', textEncoder(weights)],
    ['unet', unet(weights)],
    ['vae_decoder', vaeDecoder(weights)],
  ];
  for (const [name, model] of graphs) {
    fs.mkdirSync(path.join(folder, name), { recursive: true });
    model.write(path.join(folder, name, 'model.onnx'));
  }
  copyTokenizer(tokenizerFrom, path.join(folder, 'tokenizer'));
  writeJson(path.join(folder, 'scheduler/scheduler_config.json'), diffusersSchedulerConfig('PNDMScheduler'));
  writeJson(path.join(folder, 'model_index.json'), {
    _class_name: 'StableDiffusionPipeline',
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  });
  return weights;
}

/** numpy's .npy format (version 1.0, little-endian float32, C order). */
export function npyBytes(weight: TranscribableWeight): Buffer {
  const shape = weight.dims.length === 0 ? '()' : weight.dims.length === 1 ? `(${weight.dims[0]},)` : `(${weight.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength)]);
}
