import { promises as fsp } from 'fs';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { halfToNumber } from '../../service/library/safetensors';
import { SdArchitecture } from '../sdGraphs/architecture';
import { CheckpointError } from './checkpointError';
import { CheckpointFile } from './checkpointFile';
import { UNET_PREFIX } from './ldmKeyTable';

/**
 * Whether a checkpoint predicts noise (epsilon) or velocity (v), which no SD1/SD2 file states:
 * 1. a sidecar `<name>.yaml` beside the checkpoint wins, as in A1111 (find_checkpoint_config_near_filename): it is
 *    an LDM config, and `model.params.parameterization: "v"` means v (absent means eps, LDM's default);
 * 2. SDXL: a `v_pred` key marks a v-prediction model (ComfyUI's convention, which v-pred SDXL finetunes follow);
 * 3. SD2 (4 input channels): A1111 (sd_models_config.is_using_v_parameterization_for_sd2) runs the UNet once on a
 *    constant input and calls it v when `mean(unet(x, 999, ctx) - x) < -1` (SD2_V_PREDICTION_PROBE, run by
 *    sd2PredictionProbe.ts when loadCheckpoint is given the probe, its default). Without it we use ComfyUI's reading of the same weights: the standard
 *    deviation of the last output block's first transformer norm1 bias above 0.09 means v
 *    (comfy/supported_models.py SD20.model_type). SD 2.x base (512, eps) and 768-v models separate clearly on it.
 * 4. Otherwise epsilon.
 */
export type PredictionSource = 'sidecar' | 'v_pred key' | 'probe' | 'weights' | 'family';

/** Runs A1111's SD2 UNet probe (sd2PredictionProbe.ts) for detectPrediction; absent: ComfyUI's weight reading decides. */
export type Sd2PredictionProbe = () => Promise<SdArchitecture['prediction']>;

/** A1111's SD2 v-prediction test, for a caller that has the UNet's graph: run it once on these inputs. */
export const SD2_V_PREDICTION_PROBE = {
  /** [1, 4, 8, 8] filled with 0.5. */
  sample: { shape: [1, 4, 8, 8], value: 0.5 },
  timestep: 999,
  /** [1, 2, contextDim] filled with 0.5. */
  context: { tokens: 2, value: 0.5 },
  /** v-prediction when the mean of (output − sample) is below this. */
  threshold: -1,
  /** mean(output − sample), the number A1111 compares with the threshold. */
  meanOffset(output: ArrayLike<number>): number {
    let sum = 0;
    for (let i = 0; i < output.length; i++) sum += output[i] - 0.5;
    return sum / output.length;
  },
  isV(output: ArrayLike<number>): boolean {
    return this.meanOffset(output) < this.threshold;
  },
};

/** A1111's sidecar config: `<checkpoint without extension>.yaml`. */
export function sidecarConfigPath(checkpoint: string): string {
  return checkpoint.slice(0, checkpoint.length - path.extname(checkpoint).length) + '.yaml';
}

async function fromSidecar(checkpoint: string): Promise<SdArchitecture['prediction'] | undefined> {
  const config = sidecarConfigPath(checkpoint);
  let text: string;
  try {
    text = await fsp.readFile(config, 'utf8');
  } catch (reason) {
    if ((reason as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError('bad-config', `cannot read ${config}: ${(reason as NodeJS.ErrnoException).code ?? String(reason)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    const line = error.linePos?.[0];
    throw new CheckpointError('bad-config', `${config}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${error.message.split('\n')[0]}`);
  }
  const value = doc.getIn(['model', 'params', 'parameterization']);
  if (value === undefined || value === null || value === 'eps') return 'epsilon';
  if (value === 'v') return 'v_prediction';
  throw new CheckpointError('bad-config', `${config}: model.params.parameterization is ${JSON.stringify(value)}; A1111 knows "eps" and "v"`);
}

/** The float values of a small tensor (F32/F16/BF16), read from the file. */
async function readFloats(file: CheckpointFile, key: string): Promise<Float64Array | undefined> {
  const tensor = file.tensors.get(key);
  if (tensor === undefined || !['F32', 'F16', 'BF16'].includes(tensor.dtype)) return undefined;
  const length = tensor.end - tensor.begin;
  const handle = await fsp.open(file.path, 'r');
  try {
    const bytes = Buffer.alloc(length);
    const { bytesRead } = await handle.read(bytes, 0, length, file.dataStart + tensor.begin);
    if (bytesRead !== length) throw new CheckpointError('changed-on-disk', `${file.path} ended while reading "${key}": it changed on disk`);
    const width = tensor.dtype === 'F32' ? 4 : 2;
    const values = new Float64Array(length / width);
    for (let i = 0; i < values.length; i++) {
      if (tensor.dtype === 'F32') values[i] = bytes.readFloatLE(i * 4);
      else if (tensor.dtype === 'F16') values[i] = halfToNumber(bytes.readUInt16LE(i * 2));
      else values[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
    }
    return values;
  } finally {
    await handle.close();
  }
}

function populationStd(values: Float64Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  return Math.sqrt(variance / values.length);
}

/** The LDM key whose spread ComfyUI reads: the first transformer's norm1 bias in the UNet's last output block. */
export function sd2PredictionHintKey(arch: SdArchitecture): string {
  const last = arch.unet.channelMult.length * (arch.unet.numResBlocks + 1) - 1;
  return `${UNET_PREFIX}output_blocks.${last}.1.transformer_blocks.0.norm1.bias`;
}

/**
 * In A1111's order: the sidecar config (find_checkpoint_config, before any guess), then the guess from the state
 * dict, where SD2 with 4 input channels is the only case that runs the UNet (guess_model_config_from_state_dict).
 */
export async function detectPrediction(
  file: CheckpointFile,
  arch: SdArchitecture,
  probe?: Sd2PredictionProbe,
): Promise<{ prediction: SdArchitecture['prediction']; source: PredictionSource }> {
  const sidecar = await fromSidecar(file.path);
  if (sidecar !== undefined) return { prediction: sidecar, source: 'sidecar' };
  if (arch.family === 'sdxl' && file.tensors.has('v_pred')) return { prediction: 'v_prediction', source: 'v_pred key' };
  if (arch.family === 'sd2' && arch.unet.inChannels === 4) {
    if (probe) {
      try {
        return { prediction: await probe(), source: 'probe' };
      } catch (reason) {
        // A file that changed is the load's failure; onnxruntime unable to run the UNet (memory, a missing
        // binary) is not: the weights still tell v from eps in every released SD2 model.
        if (reason instanceof CheckpointError) throw reason;
      }
    }
    const values = await readFloats(file, sd2PredictionHintKey(arch));
    if (values !== undefined && values.length > 0) {
      return { prediction: populationStd(values) > 0.09 ? 'v_prediction' : 'epsilon', source: 'weights' };
    }
  }
  return { prediction: 'epsilon', source: 'family' };
}
