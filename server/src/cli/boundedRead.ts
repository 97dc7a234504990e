import * as fs from 'fs';

/**
 * The most the CLI reads from one prompt file or from standard input. Real prompts are a few
 * kilobytes; a 50 MB input used to end in a multi-gigabyte out-of-memory abort, and a character
 * device (`/dev/zero`, `/dev/full`) never ends at all.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** Input the CLI will not read (too large): exits 2 like any other unreadable input. */
export class InputError extends Error {}

const CHUNK_BYTES = 64 * 1024;

/**
 * Reads a file (or an open descriptor, 0 for standard input) as UTF-8, never more than `limit`
 * bytes: a regular file is refused by its size before any reading, anything else (a pipe, a
 * terminal, a device) is read in chunks until it ends or passes the limit. `label` names the input
 * in the message.
 */
export function readTextBounded(source: string | number, label: string, limit = MAX_INPUT_BYTES): string {
  const fd = typeof source === 'number' ? source : fs.openSync(source, 'r');
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: ${label} is a folder`), { code: 'EISDIR' });
    if (stat.isFile() && stat.size > limit) throw tooLarge(label, limit, `${stat.size} bytes`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, limit + 1 - total));
      let read: number;
      try {
        read = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        // Windows reports the end of a pipe as an error (fs.readFileSync treats it as the end too).
        if ((e as NodeJS.ErrnoException).code === 'EOF') break;
        throw e;
      }
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > limit) throw tooLarge(label, limit, 'more');
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    if (typeof source !== 'number') fs.closeSync(fd);
  }
}

function tooLarge(label: string, limit: number, size: string): InputError {
  return new InputError(`${label} is ${size === 'more' ? 'larger than' : size + ', over'} ${formatBytes(limit)}, the most sd-prompt reads from a prompt: a real prompt is a few kilobytes (is this the right file?)`);
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}
