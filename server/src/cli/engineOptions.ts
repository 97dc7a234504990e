import * as fs from 'fs';
import * as path from 'path';
import { BACKEND_KINDS } from '../render/backends/backend';
import { UsageError } from './usage';

/** `--backend`: render on the user's webui (docs/backends.md) instead of locally; where `render` and `grid` render: a webui backend (`--backend K --server URL [--user U --password P]`). */
export interface BackendOptions {
  backend?: string;
  server?: string;
  user?: string;
  password?: string;
}

/**
 * Reads `--backend`, `--server`, `--user` or `--password` at `args[i]` into `o`; returns the index of the last
 * argument it took, or undefined when `args[i]` is none of them. `value` checks that the option has a value.
 */
export function readBackendOption(o: BackendOptions, args: string[], i: number, value: (flag: string, v: string | undefined) => string): number | undefined {
  const a = args[i];
  if (a === '--backend') {
    const b = value(a, args[i + 1]);
    if (b !== 'local' && !BACKEND_KINDS.includes(b as never)) throw new UsageError(`--backend takes one of local, ${BACKEND_KINDS.join(', ')}, not '${b}'`);
    o.backend = b === 'local' ? undefined : b;
  } else if (a === '--server') o.server = value(a, args[i + 1]);
  else if (a === '--user') o.user = value(a, args[i + 1]);
  else if (a === '--password') o.password = value(a, args[i + 1]);
  else return undefined;
  return i + 1;
}

/** `--backend` and `--server` come together. */
export function checkBackendOptions(o: BackendOptions): void {
  if (o.backend && !o.server) throw new UsageError(`--backend ${o.backend} needs --server URL (e.g. http://127.0.0.1:7860)`);
  if (!o.backend && o.server) throw new UsageError('--server needs --backend a1111|comfyui|swarmui');
}

/** The worker bundle next to the CLI bundle (dist/), or the compiled module (out/, in tests). */
export function workerPath(): string {
  const bundled = path.join(__dirname, 'renderWorker.js');
  return fs.existsSync(bundled) ? bundled : path.join(__dirname, '../render/worker.js');
}
