/**
 * A helper thread of ProductPool: computes low-rank products with its own onnxruntime sessions and
 * hands each result back by transfer (no copy). Bundled as dist/productWorker.js beside the render
 * worker.
 */
import { parentPort, workerData } from 'worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { PRODUCT_CPU_SESSION, productFeeds, productModel } from './productModel';
import type { ProductClose, ProductHelperData, ProductJob, ProductReply } from './productPool';

const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const { threads, closing } = workerData as ProductHelperData;
const sessions = new Map<boolean, Promise<InferenceSession>>();
/** Products being computed: the helper stops only when none is (see ProductPool.close). */
const running = new Set<Promise<unknown>>();

function session(transposed: boolean): Promise<InferenceSession> {
  let s = sessions.get(transposed);
  if (!s) {
    s = ort.InferenceSession.create(productModel(transposed), {
      logSeverityLevel: 3,
      intraOpNumThreads: threads,
      executionProviders: ['cpu'],
      extra: { session: PRODUCT_CPU_SESSION },
    });
    sessions.set(transposed, s);
  }
  return s;
}

parentPort!.on('message', async (message: ProductJob | ProductClose) => {
  if ('close' in message) {
    await Promise.allSettled(running);
    for (const s of sessions.values()) await (await s.catch(() => undefined))?.release();
    parentPort!.close();
    return;
  }
  const job = message;
  if (Atomics.load(closing, 0)) {
    parentPort!.postMessage({ id: job.id, error: 'the LoRA product threads were closed' } satisfies ProductReply);
    return;
  }
  try {
    // The job's factors are this thread's own copies: A is scaled where it lies.
    const run = (async () => (await session(job.transposed)).run(productFeeds(ort, job, job.a)))();
    running.add(run);
    const { out } = await run.finally(() => running.delete(run));
    let data = out.data as Float32Array;
    // The binding gives each output its own ArrayBuffer; a view of a larger one would transfer too much.
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
    parentPort!.postMessage({ id: job.id, out: data } satisfies ProductReply, [data.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) } satisfies ProductReply);
  }
});
