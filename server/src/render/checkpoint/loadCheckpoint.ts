import { SdArchitecture } from '../sdGraphs/architecture';
import { a1111KeyNames } from './a1111KeyNames';
import { architectureFromShapes } from './architectureFromShapes';
import { CheckpointFile, openCheckpointFile } from './checkpointFile';
import { CheckpointWeights } from './checkpointWeights';
import { CombinedWeights } from './combinedWeights';
import { ldmKeyTable } from './ldmKeyTable';
import { LoadedVae, loadVae } from './vaeFile';
import { detectFamily } from './familyDetection';
import { detectPrediction, PredictionSource } from './prediction';
import { probeSd2Prediction } from './sd2PredictionProbe';

/**
 * A single-file checkpoint, ready for the graph builders: what it is (architecture, from its shapes and A1111's
 * constants) and where each weight is (a WeightSource over the file's own bytes). Everything is checked here,
 * before a graph is built: a file that fails has one message naming the file and the reason.
 */
export interface LoadedCheckpoint {
  file: CheckpointFile;
  architecture: SdArchitecture;
  /** The checkpoint's weights, and the chosen VAE file's for `vae_decoder` when one was given. */
  weights: CombinedWeights;
  /** The VAE file that replaced the checkpoint's own VAE, when one was chosen. */
  vae?: LoadedVae;
  /** How `architecture.prediction` was decided. */
  predictionSource: PredictionSource;
  /** Tensor count per dtype among the checkpoint's weights the pipeline reads (e.g. { F16: 1022 }). */
  dtypes: Record<string, number>;
}

export interface LoadOptions {
  /** A VAE file to use instead of the checkpoint's own VAE (which may then be missing, as in "no-VAE" uploads). */
  vae?: string;
  /**
   * SD2 v vs eps: `true` (default) runs A1111's UNet probe once per file (its answer cached under `cacheRoot`);
   * `false` reads the weights as ComfyUI does, running nothing (for callers that must not start onnxruntime).
   */
  sd2Probe?: boolean;
  /** The graph cache root the probe's answer is kept in; default `defaultGraphCacheRoot()`. */
  cacheRoot?: string;
}

export async function loadCheckpoint(path: string, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const opened = await openCheckpointFile(path);
  const file: CheckpointFile = { ...opened, tensors: a1111KeyNames(opened.tensors) };
  const family = detectFamily(path, file.tensors);
  const vae = options.vae === undefined ? undefined : await loadVae(options.vae, family);
  const shapes = architectureFromShapes(path, file.tensors, family, vae?.architecture);
  // The key table does not depend on the prediction: the weights are checked before the probe reads any of them.
  const own = new CheckpointWeights(
    file,
    ldmKeyTable(shapes).filter((e) => vae === undefined || e.component !== 'vae_decoder'),
  );
  own.validate();
  const weights = new CombinedWeights(vae === undefined ? [own] : [own, vae.weights]);
  const probe =
    options.sd2Probe === false
      ? undefined
      : async () => (await probeSd2Prediction(path, shapes, weights, options.cacheRoot ? { cacheRoot: options.cacheRoot } : {})).prediction;
  const { prediction, source } = await detectPrediction(file, shapes, probe);
  const architecture: SdArchitecture = { ...shapes, prediction };
  const dtypes: Record<string, number> = {};
  for (const key of new Set(own.table.map((e) => e.ldmKey))) {
    const dtype = file.tensors.get(key)?.dtype;
    if (dtype !== undefined) dtypes[dtype] = (dtypes[dtype] ?? 0) + 1;
  }
  return { file, architecture, weights, ...(vae ? { vae } : {}), predictionSource: source, dtypes };
}
