import { Mt19937 } from './mt19937';
import type { NoiseGenerator } from './noiseGenerator';

/**
 * torch's `torch.randn(shape, generator=g)` for a seeded CPU generator, float32, as A1111 uses it
 * with `RNG: CPU` (aten/src/ATen/native/cpu/DistributionTemplates.h `normal_kernel`):
 * - 16 elements or more (`normal_fill`): one 24-bit uniform per element from the Mersenne Twister,
 *   then Box–Muller over blocks of 16 (element j and j+8 of a block are one pair: cos to j, sin to
 *   j+8); when the length is not a multiple of 16, 16 fresh uniforms overwrite the last 16 slots
 *   and that block is transformed again.
 * - fewer than 16: `at::normal_distribution<double>` per element, on 53-bit uniforms from two
 *   outputs each, returning r·cos θ and keeping r·sin θ in the generator for the next element,
 *   even across calls (the cache lives in the generator, as torch's does).
 */
export class TorchCpuGenerator implements NoiseGenerator {
  private readonly engine: Mt19937;
  private cachedNormal: number | undefined;
  private uniforms = new Float32Array(0);

  constructor(seed: number) {
    this.engine = new Mt19937(seed);
  }

  randn(out: Float32Array): void {
    if (out.length >= 16) this.normalFill(out);
    else for (let i = 0; i < out.length; i++) out[i] = this.scalarNormal();
  }

  /** `uniform_real_distribution<float>(0, 1)`: the low 24 bits over 2^24. */
  private uniform24(): number {
    return (this.engine.nextUint32() & 0xffffff) / 16777216;
  }

  private normalFill(out: Float32Array): void {
    const n = out.length;
    if (this.uniforms.length < n) this.uniforms = new Float32Array(n);
    const u = this.uniforms;
    for (let i = 0; i < n; i++) u[i] = this.uniform24();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(u, i, out);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) u[i] = this.uniform24();
      boxMuller16(u, n - 16, out);
    }
  }

  /** `at::normal_distribution<double>` with the generator's cached second value, cast to float. */
  private scalarNormal(): number {
    if (this.cachedNormal !== undefined) {
      const cached = this.cachedNormal;
      this.cachedNormal = undefined;
      return cached;
    }
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `uniform_real_distribution<double>`: random64() = (first << 32) | second, its low 53 bits over 2^53. */
  private uniform53(): number {
    const hi = this.engine.nextUint32() & 0x1fffff;
    const lo = this.engine.nextUint32();
    return (hi * 4294967296 + lo) / 9007199254740992;
  }
}

const fround = Math.fround;

/**
 * `normal_fill_16` in float32: u1 = 1 − u[j] (so log never sees 0), radius = sqrt(−2·log u1),
 * θ = 2π·u[j+8] rounded to float, out[j] = radius·cos θ, out[j+8] = radius·sin θ.
 */
function boxMuller16(u: Float32Array, at: number, out: Float32Array): void {
  for (let j = at; j < at + 8; j++) {
    const u1 = fround(1 - u[j]);
    const radius = fround(Math.sqrt(fround(-2 * fround(Math.log(u1)))));
    const theta = fround(2 * Math.PI * u[j + 8]);
    out[j] = radius * fround(Math.cos(theta));
    out[j + 8] = radius * fround(Math.sin(theta));
  }
}
