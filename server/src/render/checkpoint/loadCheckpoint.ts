import { SdArchitecture } from '../sdGraphs/architecture';
import { a1111KeyNames } from './a1111KeyNames';
import { architectureFromShapes } from './architectureFromShapes';
import { CheckpointFile, openCheckpointFile } from './checkpointFile';
import { CheckpointWeights } from './checkpointWeights';
import { detectFamily } from './familyDetection';
import { detectPrediction, PredictionSource } from './prediction';

/**
 * A single-file checkpoint, ready for the graph builders: what it is (architecture, from its shapes and A1111's
 * constants) and where each weight is (a WeightSource over the file's own bytes). Everything is checked here,
 * before a graph is built: a file that fails has one message naming the file and the reason.
 */
export interface LoadedCheckpoint {
  file: CheckpointFile;
  architecture: SdArchitecture;
  weights: CheckpointWeights;
  /** How `architecture.prediction` was decided. */
  predictionSource: PredictionSource;
  /** Tensor count per dtype among the weights the pipeline reads (e.g. { F16: 1131 }). */
  dtypes: Record<string, number>;
}

export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const opened = await openCheckpointFile(path);
  const file: CheckpointFile = { ...opened, tensors: a1111KeyNames(opened.tensors) };
  const family = detectFamily(path, file.tensors);
  const shapes = architectureFromShapes(path, file.tensors, family);
  const { prediction, source } = await detectPrediction(file, shapes);
  const architecture: SdArchitecture = { ...shapes, prediction };
  const weights = CheckpointWeights.of(file, architecture);
  weights.validate();
  const dtypes: Record<string, number> = {};
  for (const key of new Set(weights.table.map((e) => e.ldmKey))) {
    const dtype = file.tensors.get(key)?.dtype;
    if (dtype !== undefined) dtypes[dtype] = (dtypes[dtype] ?? 0) + 1;
  }
  return { file, architecture, weights, predictionSource: source, dtypes };
}
