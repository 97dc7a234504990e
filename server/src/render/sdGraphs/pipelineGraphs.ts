import { PipelineComponent, SdArchitecture, WeightSource } from './architecture';
import { BuiltGraph } from './graphOptions';
import { FloatType, FusedForms } from './net';
import { buildTextEncoder } from './textEncoder';
import { buildUnet } from './unet';
import { buildVaeDecoder } from './vaeDecoder';

/** Every graph of a pipeline built from its architecture, random or over a weight source's bytes. */
export interface PipelineGraphOptions {
  dtype: FloatType;
  weights: { kind: 'random'; seed: number } | { kind: 'source'; source: WeightSource };
  inputIdsType?: 'int32' | 'int64';
  timestepType?: 'float' | 'int64';
  /** Each text encoder outputs its layers' hidden states (clip skip, SDXL's penultimate layer). Default true. */
  hiddenStates?: boolean;
  /** SD1's text encoder also outputs its earlier hidden states through the final norm (clip skip). Default false. */
  normedHiddenStates?: boolean;
  /** onnxruntime contrib ops in every graph (`true`: every form in FusedForms). */
  fused?: boolean | FusedForms;
}

/** Seed offsets of the random test pipelines (kept: their files must stay byte for byte what they were). */
const SEED_OFFSET: Record<PipelineComponent, number> = { text_encoder: 0, text_encoder_2: 50, unet: 100, vae_decoder: 200 };

/** Where the architecture contradicts itself (a hand-written or mis-read one), the error says what does not fit. */
export function checkArchitecture(arch: SdArchitecture): void {
  const encoders = arch.textEncoders;
  if (encoders.length !== (arch.family === 'sdxl' ? 2 : 1)) throw new Error(`${arch.family}: ${encoders.length} text encoders`);
  const context = encoders.reduce((sum, e) => sum + e.width, 0);
  if (context !== arch.unet.contextDim) {
    throw new Error(`${arch.family}: the UNet attends to ${arch.unet.contextDim}-wide context, the text encoders give ${context}`);
  }
  if (arch.unet.admInChannels !== undefined) {
    const pooled = encoders[encoders.length - 1].projectionDim ?? 0;
    const expected = pooled + 6 * (arch.unet.additionTimeEmbedDim ?? 256);
    if (expected !== arch.unet.admInChannels) {
      throw new Error(`${arch.family}: label_emb takes ${arch.unet.admInChannels} inputs, the pooled text embedding and time ids give ${expected}`);
    }
  }
  for (const e of encoders) {
    if (e.width % e.heads !== 0) throw new Error(`${arch.family}: a ${e.width}-wide text encoder does not split into ${e.heads} heads`);
  }
}

export function buildSdGraphs(arch: SdArchitecture, options: PipelineGraphOptions): Partial<Record<PipelineComponent, BuiltGraph>> {
  checkArchitecture(arch);
  const weightsOf = (component: PipelineComponent) =>
    options.weights.kind === 'random'
      ? { kind: 'random' as const, seed: options.weights.seed + SEED_OFFSET[component] }
      : { kind: 'source' as const, source: options.weights.source, component };
  const graphs: Partial<Record<PipelineComponent, BuiltGraph>> = {};
  arch.textEncoders.forEach((encoder, i) => {
    const component: PipelineComponent = i === 0 ? 'text_encoder' : 'text_encoder_2';
    graphs[component] = buildTextEncoder(encoder, {
      dtype: options.dtype,
      weights: weightsOf(component),
      fused: options.fused,
      inputIdsType: options.inputIdsType ?? 'int32',
      hiddenStates: options.hiddenStates ?? true,
      // A1111 applies clip skip to SD1's CLIP only (SD2's OpenCLIP and SDXL's encoders ignore it; docs/checkpoints.md).
      normedHiddenStates: (options.normedHiddenStates ?? false) && arch.family === 'sd1',
    });
  });
  graphs.unet = buildUnet(arch.unet, { dtype: options.dtype, weights: weightsOf('unet'), fused: options.fused, timestepType: options.timestepType ?? 'float' });
  graphs.vae_decoder = buildVaeDecoder(arch.vaeDecoder, { dtype: options.dtype, weights: weightsOf('vae_decoder'), fused: options.fused });
  return graphs;
}
