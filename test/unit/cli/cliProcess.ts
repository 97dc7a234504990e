import { ChildProcess, spawn, StdioOptions } from 'child_process';
import * as path from 'path';

/** The compiled CLI entry (out/server/src/cli/main.js), run as `sd-prompt` would be. */
export const CLI = path.resolve(__dirname, '../../../server/src/cli/main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in its own process (real standard streams, real exit code). `onStart` can feed
 * standard input or close standard output early; `stdio` replaces the default pipes.
 */
export function runCliProcess(
  args: string[],
  options: { stdio?: StdioOptions; cwd?: string; onStart?: (child: ChildProcess) => void; killAfterMs?: number; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: options.env ?? process.env });
    // A CLI that reads without bound would run until it exhausts memory: stop it, so the test
    // fails on its assertion (signal SIGKILL) and leaves no process behind.
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 20000);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stdout?.on('error', () => undefined);
    child.stderr?.on('data', (d) => (stderr += d));
    child.stdin?.on('error', () => undefined); // the CLI may stop reading early (the input cap)
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
    options.onStart?.(child);
  });
}
