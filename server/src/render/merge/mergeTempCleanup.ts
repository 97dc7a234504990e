import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ownTempPrefix } from './mergedModelFiles';

/**
 * A merge writes the patched weights to `sd-prompt-merge-<pid>-XXXXXX/lora-patched.bin` in the temp
 * folder (up to 1 GB each), from the render worker thread. Ctrl-C, SIGTERM or SIGHUP (a closed
 * terminal) end the process without the worker's cleanup running, and signals reach the main thread
 * only. So the main thread removes this process's merge folders when the process exits, and on those
 * signals before ending the way the signal would have.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/** Removes this process's merge folders from `tempFolder` (the OS's by default); never throws. */
export function removeOwnMergeFolders(tempFolder = os.tmpdir()): void {
  let names: string[];
  try {
    names = fs.readdirSync(tempFolder);
  } catch {
    return;
  }
  const prefix = ownTempPrefix();
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    try {
      fs.rmSync(path.join(tempFolder, name), { recursive: true, force: true });
    } catch {
      // Windows keeps a file a live session maps; the next renderer removes it (removeStaleMerges).
    }
  }
}

/**
 * Installs the cleanup once per process, in its main thread: on 'exit', and on SIGINT, SIGTERM and
 * SIGHUP. A signal nobody else listens to is raised again after the cleanup, so the process ends as
 * it would have without this (killed by that signal); where the program has its own listener, that
 * listener decides, and 'exit' cleans up.
 */
export function installMergeTempCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => removeOwnMergeFolders());
  for (const signal of SIGNALS) {
    const onSignal = () => {
      removeOwnMergeFolders();
      if (process.listenerCount(signal) > 1) return;
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
