import * as os from 'os';

/**
 * Every module's ΔW at multiplier 1, in its initializer's layout (low-rank products and the kinds
 * computed in JS alike), kept between merges so that changing only a tag's weight re-merges
 * without recomputing them: the re-merge is then one pass of `base + m·ΔW` per weight. A rank-32
 * LoRA over SD1.5's UNet and text encoder keeps 1.4 GB here (fp32, as the merge adds them).
 *
 * Within `budgetBytes`, a merge evicts the least recently used deltas that the merge in progress
 * has not touched; when only its own are left it stops caching rather than evicting them. So a set
 * of LoRAs larger than the budget still keeps what fits, instead of each new delta pushing out the
 * one the next merge needs first.
 */
export class DeltaCache {
  private readonly entries = new Map<string, { delta: Float32Array; merge: number }>();
  private bytes = 0;
  private merge = 0;

  constructor(readonly budgetBytes = defaultDeltaBudget()) {}

  /** Marks the start of a merge: what it gets or sets is kept over what earlier merges used. */
  beginMerge(): void {
    this.merge++;
  }

  get(key: string): Float32Array | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, { delta: hit.delta, merge: this.merge });
    return hit.delta;
  }

  /** Whether `key` is kept (without counting as a use). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Keeps `delta` if it fits; false when the budget is taken by this merge's own deltas. */
  set(key: string, delta: Float32Array): boolean {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.delta.byteLength;
    }
    for (const [k, v] of this.entries) {
      if (this.bytes + delta.byteLength <= this.budgetBytes || v.merge === this.merge) break;
      this.entries.delete(k);
      this.bytes -= v.delta.byteLength;
    }
    if (this.bytes + delta.byteLength > this.budgetBytes) return false;
    this.entries.set(key, { delta, merge: this.merge });
    this.bytes += delta.byteLength;
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the deltas kept. */
  get heldBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/** A sixth of the machine's memory, at most 4 GiB: two SD1.5 LoRAs on 16 GB, none of a model's own room. */
export function defaultDeltaBudget(totalMemory = os.totalmem()): number {
  return Math.min(4 * 2 ** 30, Math.floor(totalMemory / 6));
}
