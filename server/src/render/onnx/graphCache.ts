import * as fs from 'fs';
import { indexWeights, OnnxModel, readOnnxModel, WeightIndex } from './onnxIndex';

export interface ParsedGraph {
  model: OnnxModel;
  index: WeightIndex;
}

/**
 * Parsed graphs by model file: nodes, initializer names, shapes and where each weight's bytes lie, but
 * no weight bytes (a few MB for SD1.5's UNet). A re-merge after a weight change then finds its weights
 * without reading and parsing the model again: 0.28 s for SD1.5's text encoder, whose 492 MB of weights
 * sit inside model.onnx. A file whose size or modification time changed is parsed anew.
 */
export class GraphCache {
  private readonly graphs = new Map<string, { stamp: string; graph: ParsedGraph }>();

  get(file: string): ParsedGraph {
    const stat = fs.statSync(file);
    const stamp = `${stat.size}:${stat.mtimeMs}`;
    const hit = this.graphs.get(file);
    if (hit?.stamp === stamp) return hit.graph;
    const graph = parseGraph(file);
    this.graphs.set(file, { stamp, graph });
    return graph;
  }

  get size(): number {
    return this.graphs.size;
  }

  clear(): void {
    this.graphs.clear();
  }
}

export function parseGraph(file: string): ParsedGraph {
  const model = readOnnxModel(file);
  return { model, index: indexWeights(model) };
}
