import * as path from 'path';
import { OnnxAttribute, OnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { AttrValue, GraphBuilder, ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';

/**
 * A builder's graph as the decoder would return it, without serializing: SD15_SIZED's weights
 * are lazy and 3.4 GB, and only names, dims and attributes matter to the index. Large
 * initializers get external locations laid out as the writer would (back to back, ≥ 1024 bytes).
 */
export function modelFromBuilder(model: ModelBuilder, file: string, externalData: boolean): OnnxModel {
  const g: GraphBuilder = model.graph;
  const bytesPer = { float32: 4, float16: 2, int32: 4, int64: 8, bool: 1 } as const;
  const code = { float32: 1, float16: 10, int32: 6, int64: 7, bool: 9 } as const;
  let offset = 0;
  const attr = (name: string, v: AttrValue): OnnxAttribute => {
    if (typeof v === 'number') return { name, type: 2, i: v };
    if (typeof v === 'string') return { name, type: 3, s: v };
    if (Array.isArray(v)) return { name, type: 7, ints: v };
    if (v.kind === 'float') return { name, type: 1, f: v.value };
    if (v.kind === 'floats') return { name, type: 6, floats: v.value };
    return { name, type: 4 };
  };
  return {
    file,
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsets: [...model.opsets].map(([domain, version]) => ({ domain, version })),
    graph: {
      name: g.name,
      nodes: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        inputs: n.inputs,
        outputs: n.outputs,
        attributes: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, attr(k, v)])),
      })),
      initializers: g.initializers.map((i) => {
        const length = i.dims.reduce((a, b) => a * b, 1) * bytesPer[i.type];
        const external = externalData && length >= 1024;
        const location = external
          ? { kind: 'external' as const, location: 'model.onnx_data', file: path.join(path.dirname(file), 'model.onnx_data'), offset, length }
          : { kind: 'inline' as const, offset: 0, length };
        if (external) offset += length;
        return { name: i.name, dims: i.dims, dataType: code[i.type], dtype: i.type, location };
      }),
      inputs: g.inputs.map((v) => ({ name: v.name, elemType: v.type })),
      outputs: g.outputs.map((v) => ({ name: v.name, elemType: v.type })),
    },
  };
}

