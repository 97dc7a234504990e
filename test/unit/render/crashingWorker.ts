import * as fs from 'fs';
import { parentPort } from 'worker_threads';

/**
 * The render worker, made to die at its first progress message of a test run (renderHost.test.ts):
 * `SD_CRASH_MARKER` names a file that does not exist yet; the first worker to report progress creates
 * it and dies as `SD_CRASH_MODE` says ('exit': process.exit(7) in the worker; 'throw': an uncaught
 * error). Workers started after that are the plain render worker.
 */
const marker = process.env.SD_CRASH_MARKER!;
const port = parentPort!;
const post = port.postMessage.bind(port);
port.postMessage = (message: { type?: string }, transfer?: readonly import('worker_threads').TransferListItem[]) => {
  if (message?.type === 'progress' && !fs.existsSync(marker)) {
    fs.writeFileSync(marker, '');
    if (process.env.SD_CRASH_MODE === 'exit') process.exit(7);
    // Thrown outside the render's own try (which would report it as a render error): uncaught.
    process.nextTick(() => {
      throw new Error('the worker broke mid-render');
    });
    return;
  }
  post(message, transfer);
};
require('../../../server/src/render/worker');
