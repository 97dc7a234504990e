import type { InferenceSession } from 'onnxruntime-node';
import { autoOrder, DeviceSetting, ExecutionProvider, onFirstWorkingDevice } from '../model/devices';
import { ModelBuilder } from '../testModel/onnxWriter';

type Ort = typeof import('onnxruntime-node');

/** The dtypes a merge can write: the weight's own. */
export type MergeDType = 'float32' | 'float16';

/**
 * `out = A·B + base` through one onnxruntime Gemm: the low-rank products of every LoRA on a weight
 * (their factors concatenated along the rank) added to the base weight in fp32 and rounded once
 * into the weight's dtype, written straight into `out` (a view of the merged weights' buffer).
 * In JS loops this product was 22 s of a 30 s SD1.5 merge. fp16 weights go through
 * Cast → Gemm → Cast because the CPU provider has no fp16 Gemm. It runs on the render device
 * (`onDevice`): a GPU does the products far faster than the CPU, at the cost of moving each weight
 * there and back.
 */
export class MergeKernel {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();

  constructor(
    private readonly ort: Ort,
    private readonly options: InferenceSession.SessionOptions = {},
    /** Where the Gemm runs (for reports). */
    readonly device: ExecutionProvider = 'cpu',
  ) {}

  /**
   * A kernel on the render device. `auto` tries the hardware-only providers of `auto`'s order (CUDA,
   * DirectML, CoreML) and then the CPU, but not WebGPU: WebGPU may be a software adapter (Mesa's
   * lavapipe ran the SD1.5 products in 8.6 s, against 0.65 s on the CPU provider). A named device is
   * used as named.
   */
  static async onDevice(ort: Ort, setting: DeviceSetting, platform: NodeJS.Platform = process.platform): Promise<MergeKernel> {
    const create = async (device: ExecutionProvider) => {
      const kernel = new MergeKernel(ort, { executionProviders: [device] }, device);
      try {
        await kernel.session('float32', 'float32');
      } catch (e) {
        await kernel.release();
        throw e;
      }
      return kernel;
    };
    if (setting !== 'auto') return (await onFirstWorkingDevice(setting, platform, create)).value;
    for (const device of autoOrder(platform).filter((d) => d !== 'webgpu' && d !== 'cpu')) {
      try {
        return await create(device);
      } catch {
        // Not on this machine: the next one, and at last the CPU.
      }
    }
    return create('cpu');
  }

  /**
   * A [m × r] and B [r × n] in fp32, `base` and `out` [m × n] in `dtype` (Float32Array or the
   * bits of fp16 in a Uint16Array). `base` may be fp32 for an fp16 `out` (when JS-computed deltas
   * were added to it first).
   */
  async run(a: Float32Array, b: Float32Array, m: number, r: number, n: number, base: Float32Array | Uint16Array, out: Float32Array | Uint16Array): Promise<void> {
    const baseType: MergeDType = base instanceof Float32Array ? 'float32' : 'float16';
    const outType: MergeDType = out instanceof Float32Array ? 'float32' : 'float16';
    const session = await this.session(baseType, outType);
    const { Tensor } = this.ort;
    await session.run(
      { a: new Tensor('float32', a, [m, r]), b: new Tensor('float32', b, [r, n]), base: new Tensor(baseType, base, [m, n]) },
      { out: new Tensor(outType, out, [m, n]) },
    );
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).release().catch(() => undefined)));
  }

  private session(baseType: MergeDType, outType: MergeDType): Promise<InferenceSession> {
    const key = `${baseType}>${outType}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = this.ort.InferenceSession.create(kernelModel(baseType, outType), { logSeverityLevel: 3, ...this.options });
      // A failed creation is not kept: the next call tries again.
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
    }
    return session;
  }
}

const FLOAT = 1;
const FLOAT16 = 10;

function kernelModel(baseType: MergeDType, outType: MergeDType): Uint8Array {
  const builder = new ModelBuilder(17, 'lora_merge');
  const g = builder.graph;
  g.input('a', 'float32', ['m', 'r']);
  g.input('b', 'float32', ['r', 'n']);
  g.input('base', baseType, ['m', 'n']);
  const base = baseType === 'float32' ? 'base' : g.node('Cast', ['base'], ['base_f32'], { to: FLOAT })[0];
  const sum = outType === 'float32' ? 'out' : 'sum_f32';
  g.node('Gemm', ['a', 'b', base], [sum]);
  if (outType === 'float16') g.node('Cast', [sum], ['out'], { to: FLOAT16 });
  g.output('out', outType, ['m', 'n']);
  return builder.serialize().model;
}
