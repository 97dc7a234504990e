import type { NoiseGenerator } from './noiseGenerator';
import { philoxWords } from './philoxWords';

/**
 * A1111's NV generator (`modules/rng_philox.py`), which it documents as giving the numbers of
 * `torch.randn(..., device='cuda')`: Philox 4x32-10 keyed by the 64-bit seed, one counter per
 * element (counter = [call number, 0, element index, 0]), and one Box–Muller output per element
 * from the first two words. Each `randn` call moves to the next call number, whatever its size.
 * A1111's "GPU" noise is this too: the same numbers NVidia cards give.
 */
export class PhiloxGenerator implements NoiseGenerator {
  private readonly keyLo: number;
  private readonly keyHi: number;
  private offset = 0;

  constructor(seed: number) {
    // numpy reads the seed as a uint64 and views it as two uint32 words, low first.
    const s = BigInt.asUintN(64, BigInt(Math.trunc(seed)));
    this.keyLo = Number(s & 0xffffffffn);
    this.keyHi = Number(s >> 32n);
  }

  randn(out: Float32Array): void {
    const words = philoxWords(out.length, this.offset++ >>> 0, this.keyLo, this.keyHi);
    for (let i = 0; i < out.length; i++) out[i] = boxMullerFirst(words[2 * i], words[2 * i + 1]);
  }
}

// rng_philox.py's constants are float32 arrays; multiplying the uint32 words by them promotes to
// float64 in numpy, so u and v are float64 built from float32-rounded constants.
const TWO_POW32_INV = Math.fround(2.3283064e-10);
const TWO_POW32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855);

/**
 * rng_philox.py `box_muller`: only the sine output, rounded to float32. Exported for its test, which
 * checks the half-step offsets at the words where they show.
 */
export function boxMullerFirst(x: number, y: number): number {
  const u = x * TWO_POW32_INV + TWO_POW32_INV / 2;
  const v = y * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
  return Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
}
