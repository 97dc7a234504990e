import { ModelBuilder } from '../onnx/onnxWriter';
import { FloatType, GraphWeights, LinearRecord } from './net';

/** What every graph builder takes besides its architecture. */
export interface GraphOptions {
  /** The type the graph computes in; weights stored in another type are cast. */
  dtype: FloatType;
  weights: GraphWeights;
}

/** A built graph (weights made or referenced only when written) and the Linear/Conv weights in it. */
export interface BuiltGraph {
  model: ModelBuilder;
  linears: LinearRecord[];
}

/** Opset 17: torch's default export opset for SD, and the first with LayerNormalization. */
export function newModel(): ModelBuilder {
  return new ModelBuilder(17, 'main_graph');
}
