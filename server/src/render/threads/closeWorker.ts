import type { Worker } from 'worker_threads';

/**
 * Stops a worker thread that may be inside onnxruntime without cutting it off there: a thread
 * terminated in the middle of a native call (a session's run or release) can abort the whole
 * process, or leave it unable to exit. So the worker is asked to stop (`ask`: it releases its
 * sessions), given `graceMs` to do so (`stopped` settles when it has), and terminated then, which
 * costs nothing for one that has already exited. It is kept referenced meanwhile: a process that
 * exits first would cut it off all the same. The render host (its render worker) and the LoRA
 * product pool (its helpers) both stop their threads this way.
 */
export async function closeWorker(worker: Worker, ask: () => void, stopped: Promise<unknown>, graceMs: number): Promise<void> {
  worker.ref();
  ask();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([stopped.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  await worker.terminate();
}
