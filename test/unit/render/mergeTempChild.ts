import * as fs from 'fs';
import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import type { MergedGraph } from '../../../server/src/render/merge/merge';
import { sessionModel } from '../../../server/src/render/merge/mergedModelFiles';
import { installMergeTempCleanup } from '../../../server/src/render/merge/mergeTempCleanup';

/**
 * A process that is killed in the middle of a merge (mergeTempCleanup.test.ts): the main thread
 * installs the cleanup and starts a worker thread, as RenderHost does; the worker writes the first
 * block of a merge's temporary file and then waits forever. The main thread prints the temporary folder
 * once it exists, then waits for the test's signal (or exits with code 3 when argv[2] is 'exit').
 */
if (isMainThread) {
  installMergeTempCleanup();
  const model = process.argv[3];
  const worker = new Worker(__filename, { workerData: { model } });
  worker.on('message', (folder: string) => {
    process.stdout.write(`${folder}\n`);
    if (process.argv[2] === 'exit') process.exit(3);
  });
} else {
  const modelFile: string = workerData.model;
  const merged: MergedGraph = {
    modelFile,
    initializers: [],
    patches: [{ initializer: 'w', length: 4096 }],
    reports: [],
    compute: async (sink) => {
      await sink({ initializer: 'w', length: 4096 }, new Uint8Array(4096), 0);
      const temp = fs.readdirSync(process.env.TMPDIR!).map((n) => path.join(process.env.TMPDIR!, n));
      parentPort!.postMessage(temp.find((f) => fs.existsSync(path.join(f, 'lora-patched.bin'))));
      // The merge never ends: the process is ended from outside.
      await new Promise(() => setInterval(() => undefined, 60_000));
    },
  };
  void sessionModel(merged, { placement: 'file' });
}
