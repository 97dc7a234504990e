import { ModelBuilder } from '../testModel/onnxWriter';

/** The ONNX graph `out = a·b` (Gemm) for a [m × r] and b [r × n], fp32: a LoRA's low-rank product. */
export function productModel(): Uint8Array {
  const builder = new ModelBuilder(17, 'lora_product');
  const g = builder.graph;
  g.input('a', 'float32', ['m', 'r']);
  g.input('b', 'float32', ['r', 'n']);
  g.node('Gemm', ['a', 'b'], ['out']);
  g.output('out', 'float32', ['m', 'n']);
  return builder.serialize().model;
}
