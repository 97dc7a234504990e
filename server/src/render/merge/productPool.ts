import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { ProductInputs } from './productModel';
import { closeWorker } from '../threads/closeWorker';

export interface ProductJob extends ProductInputs {
  id: number;
}

export type ProductReply = { id: number; out: Float32Array } | { id: number; error: string };

/** What a helper is told besides jobs: to stop once the product it is computing is done. */
export interface ProductClose {
  close: true;
}

/** A helper's workerData. `closing[0]` becomes 1 when the pool closes: jobs not started yet are refused. */
export interface ProductHelperData {
  threads: number;
  closing: Int32Array;
}

/**
 * Low-rank products on CPU helper threads (productWorker.ts). Why threads: onnxruntime-node copies
 * each output into a new ArrayBuffer on the calling thread, and for a merge whose products are kept
 * that is 1.07 GB of fresh memory (SD1.5's UNet, rank 32) filled one page fault at a time. That copy,
 * not the Gemm, was most of a first merge. Helpers fault and copy in parallel, and hand their results
 * over without a copy. A helper that dies fails its jobs and the pool (the kernel then computes on
 * its own thread).
 *
 * The helpers' onnxruntime threads do not spin while they wait for work (PRODUCT_CPU_SESSION). On the
 * 2-core dev machine spinning threads took 1.2-1.5 s of CPU from the first SD1.5 merge's 2.2-2.5 s,
 * CPU that this thread's sums and the file write needed; a product is milliseconds of work, so a
 * thread waking up costs nothing that shows.
 */
export class ProductPool {
  private readonly pending = new Map<number, { resolve: (out: Float32Array) => void; reject: (e: Error) => void; helper: number }>();
  private readonly busy: number[];
  private nextId = 1;
  private broken: Error | undefined;
  /** Each helper's end, however it came. */
  private readonly exited: Promise<void>[];

  private constructor(
    private readonly helpers: Worker[],
    private readonly closing: Int32Array,
  ) {
    this.busy = helpers.map(() => 0);
    this.exited = helpers.map((helper) => new Promise<void>((resolve) => helper.once('exit', () => resolve())));
    helpers.forEach((helper, i) => {
      helper.on('message', (reply: ProductReply) => {
        const job = this.pending.get(reply.id);
        if (!job) return;
        this.pending.delete(reply.id);
        if (--this.busy[i] === 0) helper.unref();
        if ('error' in reply) job.reject(new Error(reply.error));
        else job.resolve(reply.out);
      });
      const fail = (e: Error) => {
        this.broken ??= e;
        for (const [id, job] of this.pending) {
          if (job.helper !== i) continue;
          this.pending.delete(id);
          job.reject(e);
        }
      };
      helper.on('error', fail);
      helper.on('exit', (code) => fail(new Error(`a LoRA product thread stopped (exit code ${code})`)));
      // An idle pool must not keep a finished process alive; a helper with jobs does (see product).
      helper.unref();
    });
  }

  /**
   * `count` helpers of `threadsEach` onnxruntime threads, from productWorker.js beside this file (in
   * dist/ the bundle beside the render worker); undefined where that script is missing.
   */
  static start(count: number, threadsEach: number, script = path.join(__dirname, 'productWorker.js')): ProductPool | undefined {
    if (count < 1 || !fs.existsSync(script)) return undefined;
    const closing = new Int32Array(new SharedArrayBuffer(4));
    const workerData: ProductHelperData = { threads: threadsEach, closing };
    return new ProductPool(
      Array.from({ length: count }, () => new Worker(script, { workerData })),
      closing,
    );
  }

  get size(): number {
    return this.helpers.length;
  }

  /** Whether a helper died; the pool takes no more jobs then. */
  get failed(): boolean {
    return this.broken !== undefined;
  }

  /**
   * The product on the least busy helper. The factors are copied (they are small, and may be views
   * of a LoRA's tensors that must stay usable here); the product comes back without a copy.
   */
  product(inputs: ProductInputs): Promise<Float32Array> {
    if (this.broken) return Promise.reject(this.broken);
    const helper = this.busy.indexOf(Math.min(...this.busy));
    const id = this.nextId++;
    const job: ProductJob = { ...inputs, id, a: inputs.a.slice(), b: inputs.b.slice() };
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, helper });
      if (this.busy[helper]++ === 0) this.helpers[helper].ref();
      this.helpers[helper].postMessage(job, [job.a.buffer as ArrayBuffer, job.b.buffer as ArrayBuffer]);
    });
  }

  /**
   * Stops the helpers without cutting one off inside onnxruntime: a thread terminated in the middle of
   * a native call can abort the process, or leave it unable to exit. Jobs not started yet are refused
   * (their promises reject); a product being computed finishes, then its helper releases its sessions
   * and stops. One that has not stopped after `graceMs` is terminated.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.broken ??= new Error('the LoRA product threads were closed');
    Atomics.store(this.closing, 0, 1);
    await Promise.all(this.helpers.map((helper, i) => closeWorker(helper, () => helper.postMessage({ close: true } satisfies ProductClose), this.exited[i], graceMs)));
  }
}
