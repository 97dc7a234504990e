/**
 * Standard output that ends quietly instead of crashing: `sd-prompt ... | head -c1` closes the
 * pipe (EPIPE) and a redirect to a full disk fails every write (ENOSPC); unhandled, both printed a
 * Node stack trace. A closed pipe means the reader has what it wanted: later output is dropped and
 * the exit code stays the command's own. Any other write failure loses output the user asked for:
 * one line on standard error, and exit 1 (when the command would have exited 0).
 */
export class OutputStream {
  private failure: NodeJS.ErrnoException | undefined;
  private exitCode: number | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly reportFailure: (message: string) => void,
    private readonly setExitCode: (code: number) => void,
  ) {
    stream.on('error', (e: NodeJS.ErrnoException) => this.fail(e));
  }

  write(text: string): void {
    if (this.failure) return;
    try {
      this.stream.write(text);
    } catch (e) {
      this.fail(e as NodeJS.ErrnoException);
    }
  }

  /** The command's exit code, raised to 1 if its output could not be written. */
  finish(commandExitCode: number): number {
    this.exitCode = commandExitCode;
    return this.adjusted(commandExitCode);
  }

  private adjusted(code: number): number {
    return this.failure && this.failure.code !== 'EPIPE' && code === 0 ? 1 : code;
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.failure) return;
    this.failure = e;
    if (e.code !== 'EPIPE') this.reportFailure(`sd-prompt: cannot write to standard output: ${describeWriteError(e)}; the output is incomplete\n`);
    // The error can arrive after the command finished (writes complete asynchronously).
    if (this.exitCode !== undefined) this.setExitCode(this.adjusted(this.exitCode));
  }
}

function describeWriteError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOSPC') return 'no space left on device (ENOSPC)';
  if (e.code === 'EIO') return 'input/output error (EIO)';
  return e.code ? `${e.code}` : e.message;
}

/** Standard error: nowhere left to report its own failures, so they are ignored rather than thrown. */
export function quietOnError(stream: NodeJS.WritableStream): (text: string) => void {
  let failed = false;
  stream.on('error', () => (failed = true));
  return (text) => {
    if (failed) return;
    try {
      stream.write(text);
    } catch {
      failed = true;
    }
  };
}
