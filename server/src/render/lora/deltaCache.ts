/**
 * Weight deltas computed in JS (LoHa, LoKr, Tucker LoCon, full diffs, DoRA) at multiplier 1, in
 * the initializer's layout, kept between merges so that changing only a tag's weight re-merges
 * without recomputing them. Plain LoRA/LoCon products are not cached: their factors are tiny and
 * the fused Gemm recomputes a product faster than a cached one can be read back from memory
 * (docs/rendering.md). Least recently used entries go first once `budgetBytes` is reached.
 */
export class DeltaCache {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(readonly budgetBytes = 1024 * 2 ** 20) {}

  get(key: string): Float32Array | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, delta: Float32Array): void {
    if (delta.byteLength > this.budgetBytes) return;
    const old = this.entries.get(key);
    if (old) this.bytes -= old.byteLength;
    this.entries.delete(key);
    this.entries.set(key, delta);
    this.bytes += delta.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
