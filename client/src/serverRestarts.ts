/**
 * When the language server's connection closes: restart it, up to `maxRestarts` times within
 * `windowMs`; after that leave it stopped and say so once. Pure (no VS Code), so a unit test can
 * drive it with a clock.
 */
export class ServerRestartPolicy {
  private readonly restarts: number[] = [];

  constructor(
    private readonly maxRestarts = 4,
    private readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** 'restart', or the message telling the person the server stays stopped. */
  closed(): 'restart' | { stop: string } {
    const now = this.now();
    this.restarts.push(now);
    while (this.restarts.length && now - this.restarts[0] > this.windowMs) this.restarts.shift();
    if (this.restarts.length <= this.maxRestarts) return 'restart';
    return {
      stop: `The SD Prompt language server stopped ${this.restarts.length} times in ${Math.round(this.windowMs / 60_000)} minutes and was not restarted: diagnostics, hover and completion are off until the window is reloaded.`,
    };
  }
}
