import { ModelBuilder } from '../onnx/onnxWriter';
import { FloatType, GraphWeights, LinearRecord, Net } from './net';

/** What every graph builder takes besides its architecture. */
export interface GraphOptions {
  /** The type the graph computes in; weights stored in another type are cast. */
  dtype: FloatType;
  weights: GraphWeights;
  /** Fused attention (com.microsoft MultiHeadAttention) instead of the plain MatMul/Softmax form. */
  fused?: boolean;
}

/** A built graph (weights made or referenced only when written) and the Linear/Conv weights in it. */
export interface BuiltGraph {
  model: ModelBuilder;
  linears: LinearRecord[];
}

/** Opset 17: torch's default export opset for SD, and the first with LayerNormalization (plus onnxruntime's contrib ops when fused). */
export function newModel(options?: GraphOptions): ModelBuilder {
  const model = new ModelBuilder(17, 'main_graph');
  if (options?.fused) model.opsets.set('com.microsoft', 1);
  return model;
}

/** The layer helpers for a graph with these options. */
export function newNet(model: ModelBuilder, options: GraphOptions): Net {
  return new Net(model.graph, options.dtype, options.weights, 1000, options.fused ?? false);
}
