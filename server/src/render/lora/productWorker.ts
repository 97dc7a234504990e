/**
 * A helper thread of ProductPool: computes low-rank products `A·B` with its own onnxruntime session
 * and hands each result back by transfer (no copy). Bundled as dist/productWorker.js beside the
 * render worker.
 */
import { parentPort, workerData } from 'worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { productModel } from './productModel';
import type { ProductJob, ProductReply } from './productPool';

const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const { threads } = workerData as { threads: number };
let session: Promise<InferenceSession> | undefined;

parentPort!.on('message', async (job: ProductJob) => {
  try {
    session ??= ort.InferenceSession.create(productModel(), { logSeverityLevel: 3, intraOpNumThreads: threads, executionProviders: ['cpu'] });
    const { Tensor } = ort;
    const { out } = await (await session).run({ a: new Tensor('float32', job.a, [job.m, job.r]), b: new Tensor('float32', job.b, [job.r, job.n]) });
    let data = out.data as Float32Array;
    // The binding gives each output its own ArrayBuffer; a view of a larger one would transfer too much.
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
    parentPort!.postMessage({ id: job.id, out: data } satisfies ProductReply, [data.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) } satisfies ProductReply);
  }
});
