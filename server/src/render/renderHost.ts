import { Worker } from 'worker_threads';
import { RenderMessage, RenderRequest, RenderResult, WorkerMessage } from './messages';
import { installMergeTempCleanup } from './merge/mergeTempCleanup';
import { closeWorker } from './threads/closeWorker';

export class RenderError extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

/**
 * The extension host's (and `sd-prompt render`'s) handle on the render worker: starts it on first use, sends renders,
 * relays progress, cancels (taking effect within one step), and stops it on dispose.
 */
export class RenderHost {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    {
      resolve: (r: RenderResult) => void;
      reject: (e: Error) => void;
      onProgress?: (m: Extract<WorkerMessage, { type: 'progress' }>) => void;
      cancel: Int32Array;
    }
  >();
  private releaseWaiters: (() => void)[] = [];

  constructor(private readonly workerPath: string) {}

  render(
    request: RenderRequest,
    options: { onProgress?: (m: { step: number; steps: number; preview?: { width: number; height: number; rgb: Uint8Array } }) => void; signal?: AbortSignal } = {},
  ): Promise<RenderResult> {
    const id = this.nextId++;
    const worker = this.ensureWorker();
    const cancel = new SharedArrayBuffer(4);
    return new Promise<RenderResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress: options.onProgress, cancel: new Int32Array(cancel) });
      options.signal?.addEventListener(
        'abort',
        () => {
          // The flag is read by the busy worker before its next step; the message covers a render still queued.
          Atomics.store(new Int32Array(cancel), 0, 1);
          worker.postMessage({ type: 'cancel', id } satisfies RenderMessage);
        },
        { once: true },
      );
      worker.postMessage({ type: 'render', id, request, cancel } satisfies RenderMessage);
    });
  }

  /** Frees the model's sessions now (a setting changed); the next render loads them again. */
  release(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    return new Promise((resolve) => {
      this.releaseWaiters.push(resolve);
      this.worker!.postMessage({ type: 'release' } satisfies RenderMessage);
    });
  }

  /**
   * Stops the worker. Its onnxruntime sessions are released first: terminating a thread while ORT
   * is inside a native call (a release, a run) aborts the whole process. A render in flight is
   * cancelled at its next step; after `graceMs` the worker is terminated regardless.
   */
  async dispose(graceMs = 10_000): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) {
      Atomics.store(p.cancel, 0, 1);
      p.reject(new RenderError('the renderer stopped', true));
    }
    this.pending.clear();
    if (!worker) return;
    const released = new Promise<void>((resolve) => {
      worker.on('message', (m: WorkerMessage) => m.type === 'released' && resolve());
      worker.once('exit', () => resolve());
    });
    await closeWorker(worker, () => worker.postMessage({ type: 'release' } satisfies RenderMessage), released, graceMs);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // The worker's merges write up to 1 GB of temporary files; a signal to this process must not leave them.
    installMergeTempCleanup();
    const worker = new Worker(this.workerPath);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'released') {
        for (const w of this.releaseWaiters.splice(0)) w();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'progress') p.onProgress?.(m);
      else {
        this.pending.delete(m.id);
        if (m.type === 'done') p.resolve(m.result);
        else p.reject(new RenderError(m.message, m.cancelled));
      }
    });
    worker.on('error', (e) => {
      // An uncaught error ends the worker; its 'exit' follows later. A render asked for in between must
      // start a new worker, not wait on this one (it was posted to it and failed as "exited (code 1)").
      if (this.worker === worker) this.worker = undefined;
      this.failAll(`the renderer crashed: ${e.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.failAll(`the renderer exited (code ${code})`);
      }
    });
    this.worker = worker;
    return worker;
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new RenderError(message, false));
    this.pending.clear();
  }
}
