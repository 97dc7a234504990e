/**
 * The server's model and LoRA lists, kept for a short while: asking for them before every render
 * costs round trips that the render's own time does not need. A name missing from a kept list is
 * looked up again in a fresh one before it is called missing (a model copied in a moment ago).
 */
export class ListCache<T> {
  private readonly entries = new Map<string, { at: number; list: Promise<T[]> }>();
  constructor(private readonly ttlMs = 30_000) {}

  async find<R>(key: string, load: () => Promise<T[]>, pick: (list: T[]) => R | undefined): Promise<{ found?: R; list: T[] }> {
    const kept = this.entries.get(key);
    if (kept && performance.now() - kept.at < this.ttlMs) {
      const list = await kept.list.catch(() => undefined);
      const found = list && pick(list);
      if (list && found !== undefined) return { found, list };
    }
    const entry = { at: performance.now(), list: load() };
    this.entries.set(key, entry);
    try {
      const list = await entry.list;
      return { found: pick(list), list };
    } catch (e) {
      this.entries.delete(key);
      throw e;
    }
  }
}
