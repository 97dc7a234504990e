import { ModelBuilder } from '../onnx/onnxWriter';

/**
 * A low-rank product `scale·A·B` [m × n] of rank r, from a LoRA's factors as they are stored, so that
 * no one transposes them in JS (that was 0.1-0.2 s of the merge's own thread for SD1.5's UNet):
 * - plain: `a` is A [m × r] (up), `b` is B [r × n] (down);
 * - transposed: `a` is Aᵀ [r × m] (down), `b` is Bᵀ [n × r] (up), which is how a weight stored
 *   transposed for MatMul ([in, out] = downᵀ·upᵀ) gets its delta.
 * `scale` multiplies A before the product (a copy of it, never the caller's).
 */
export interface ProductInputs {
  a: Float32Array;
  b: Float32Array;
  m: number;
  r: number;
  n: number;
  scale: number;
  transposed: boolean;
}

/** The ONNX graph `out = a·b` (Gemm, with transA and transB when transposed), fp32. */
export function productModel(transposed: boolean): Uint8Array {
  const builder = new ModelBuilder(17, 'lora_product');
  const g = builder.graph;
  g.input('a', 'float32', transposed ? ['r', 'm'] : ['m', 'r']);
  g.input('b', 'float32', transposed ? ['n', 'r'] : ['r', 'n']);
  g.node('Gemm', ['a', 'b'], ['out'], transposed ? { transA: 1, transB: 1 } : {});
  g.output('out', 'float32', ['m', 'n']);
  return builder.serialize().model;
}

/** The feeds of productModel(inputs.transposed), with A scaled into `scaledA` (a's length; may be a itself when the caller owns it). */
export function productFeeds(ort: typeof import('onnxruntime-node'), inputs: ProductInputs, scaledA: Float32Array) {
  const { a, b, m, r, n, scale, transposed } = inputs;
  for (let i = 0; i < a.length; i++) scaledA[i] = scale * a[i];
  const { Tensor } = ort;
  return {
    a: new Tensor('float32', scaledA, transposed ? [r, m] : [m, r]),
    b: new Tensor('float32', b, transposed ? [n, r] : [r, n]),
  };
}

/** ORT session options for the products on the CPU: no spinning threads, see productPool.ts. */
export const PRODUCT_CPU_SESSION = { 'intra_op.allow_spinning': '0' } as const;
