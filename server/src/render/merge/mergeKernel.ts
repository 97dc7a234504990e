import type { InferenceSession } from 'onnxruntime-node';
import { autoOrder, DeviceSetting, ExecutionProvider, onFirstWorkingDevice, unavailableDevice } from '../onnx/devices';
import * as os from 'os';
import { PRODUCT_CPU_SESSION, ProductInputs, productFeeds, productModel } from './productModel';
import { ProductPool } from './productPool';

type Ort = typeof import('onnxruntime-node');

/**
 * Where a render on `render` runs the merge's products: on its device, except WebGPU, whose products
 * run on the CPU. Measured on the H100 machine (SD1.5-sized UNet, rank 32, the fused Gemm kernel of
 * the time): the merge took 3.0 s with the products on WebGPU (Vulkan on the NVIDIA driver) and 1.4 s on its CPU, since every product makes
 * a round trip through WebGPU's staging buffers; under lavapipe it was 8.6 s against 0.65 s.
 */
export function mergeDeviceFor(render: DeviceSetting): DeviceSetting {
  return render === 'webgpu' ? 'cpu' : render;
}

/**
 * The merge's onnxruntime work, on the render device: a low-rank product `A·B` (in JS loops it was
 * 22 s of a 30 s SD1.5 merge). The additions, and an fp16 weight's rounding, run in MergeScratch:
 * onnxruntime-node copies every output into a new buffer, so an in-place `A·B + base` took 14.5 ms on a
 * 1280×5120 weight, where adding its kept product in WebAssembly takes 7.9 ms (the copy into its memory
 * included).
 */
export class MergeKernel {
  private readonly sessions = new Map<KernelKind, Promise<InferenceSession>>();

  constructor(
    private readonly ort: Ort,
    private readonly options: InferenceSession.SessionOptions = {},
    /** Where the Gemm runs (for reports). */
    readonly device: ExecutionProvider = 'cpu',
    /** CPU helper threads for the products (onDevice starts them for the CPU). */
    private pool?: ProductPool,
  ) {}

  /**
   * A kernel on the render device. `auto` tries the hardware-only providers of `auto`'s order (CUDA,
   * DirectML, CoreML) and then the CPU, but not WebGPU: WebGPU may be a software adapter (Mesa's
   * lavapipe ran the SD1.5 products in 8.6 s, against 0.65 s on the CPU provider). A named device is
   * used as named.
   */
  static async onDevice(ort: Ort, setting: DeviceSetting, platform: NodeJS.Platform = process.platform): Promise<MergeKernel> {
    const create = async (device: ExecutionProvider) => {
      const cpu = device === 'cpu';
      const options: InferenceSession.SessionOptions = { executionProviders: [device], ...(cpu ? { extra: { session: PRODUCT_CPU_SESSION } } : {}) };
      const kernel = new MergeKernel(ort, options, device, cpu ? startCpuPool() : undefined);
      try {
        await kernel.session('product');
      } catch (e) {
        await kernel.release();
        throw e;
      }
      return kernel;
    };
    if (setting !== 'auto') return (await onFirstWorkingDevice(setting, platform, create, undefined, (d) => unavailableDevice(d, platform))).value;
    for (const device of autoOrder(platform).filter((d) => d !== 'webgpu' && d !== 'cpu' && !unavailableDevice(d, platform))) {
      try {
        return await create(device);
      } catch {
        // Not on this machine: the next one, and at last the CPU.
      }
    }
    return create('cpu');
  }

  /** Helper threads computing products beside the caller's (0: products run on the caller's thread). */
  get helperThreads(): number {
    return this.pool && !this.pool.failed ? this.pool.size : 0;
  }

  /** `scale·A·B` in fp32 (see ProductInputs for the factors' layouts): a new [m × n] array. */
  async product(inputs: ProductInputs): Promise<Float32Array> {
    if (this.pool && !this.pool.failed) {
      try {
        return await this.pool.product(inputs);
      } catch (e) {
        // A helper died (the pool is marked failed): this thread computes from now on.
        if (!this.pool.failed) throw e;
      }
    }
    const session = await this.session(inputs.transposed ? 'productTransposed' : 'product');
    const { out } = await session.run(productFeeds(this.ort, inputs, new Float32Array(inputs.a.length)));
    return out.data as Float32Array;
  }

  async release(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).release().catch(() => undefined)));
  }

  private session(kind: KernelKind): Promise<InferenceSession> {
    let session = this.sessions.get(kind);
    if (!session) {
      session = this.ort.InferenceSession.create(productModel(kind === 'productTransposed'), { logSeverityLevel: 3, ...this.options });
      // A failed creation is not kept: the next call tries again.
      session.catch(() => this.sessions.delete(kind));
      this.sessions.set(kind, session);
    }
    return session;
  }
}

type KernelKind = 'product' | 'productTransposed';

/**
 * Helpers for a CPU kernel: half the cores, at most 4, each with its share of onnxruntime threads.
 * None on a single core, where a helper only adds a thread switch.
 */
function startCpuPool(cores = os.availableParallelism()): ProductPool | undefined {
  const helpers = Math.min(4, Math.floor(cores / 2));
  return ProductPool.start(helpers, Math.max(1, Math.floor(cores / Math.max(1, helpers))));
}
