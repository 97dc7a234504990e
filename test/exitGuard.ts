/**
 * Mocha root hooks, loaded with `--require out/test/exitGuard.js`. A test process that something keeps
 * alive after its last test (a timer, a worker thread stuck in a native call) would hang CI for its 90
 * minutes. This waits twenty seconds after the last test, then says what is left and exits with code 1.
 * Timers are recorded with where they were set, which is what tells a leaked one apart.
 */
import * as fs from 'fs';

const timers = new Map<NodeJS.Timeout, string>();
const { setTimeout: realSetTimeout, setInterval: realSetInterval, clearTimeout: realClearTimeout, clearInterval: realClearInterval } = globalThis;

function recorded<F extends typeof setTimeout | typeof setInterval>(real: F, repeats: boolean): F {
  return function (this: unknown, callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) {
    const stack = new Error(`${repeats ? 'setInterval' : 'setTimeout'}(…, ${ms ?? 0})`).stack ?? '';
    const timer: NodeJS.Timeout = (real as (...a: unknown[]) => NodeJS.Timeout).call(
      this,
      repeats || typeof callback !== 'function'
        ? callback
        : (...a: unknown[]) => {
            timers.delete(timer);
            callback(...a);
          },
      ms,
      ...args,
    );
    timers.set(timer, stack);
    return timer;
  } as unknown as F;
}

// util.promisify(setTimeout) finds its promise form on the function itself.
const promiseForm = Symbol.for('nodejs.util.promisify.custom');

globalThis.setTimeout = Object.assign(recorded(realSetTimeout, false), { [promiseForm]: (realSetTimeout as unknown as Record<symbol, unknown>)[promiseForm] });
globalThis.setInterval = recorded(realSetInterval, true);
globalThis.clearTimeout = ((timer?: NodeJS.Timeout) => (timers.delete(timer!), realClearTimeout(timer))) as typeof clearTimeout;
globalThis.clearInterval = ((timer?: NodeJS.Timeout) => (timers.delete(timer!), realClearInterval(timer))) as typeof clearInterval;

const GRACE_MS = 20_000;

export const mochaHooks = {
  afterAll(): void {
    realSetTimeout(() => {
      const left = [...timers].filter(([timer]) => timer.hasRef()).map(([, stack]) => stack);
      fs.writeSync(
        2,
        `\nThe test process is still alive ${GRACE_MS / 1000} s after its last test. Active: ${JSON.stringify(process.getActiveResourcesInfo())} ` +
          `(worker threads are not listed there).\n${left.map((s) => `A timer still set:\n${s}\n`).join('')}`,
      );
      // Mocha sets the exit code to its failure count in an 'exit' listener; this one comes after it.
      process.on('exit', () => (process.exitCode = 1));
      process.exit(1);
    }, GRACE_MS).unref();
  },
};
