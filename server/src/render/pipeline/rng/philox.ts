import type { NoiseGenerator } from './noiseGenerator';

// Philox 4x32 multipliers and Weyl key increments.
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

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
    const offset = this.offset++ >>> 0;
    for (let i = 0; i < out.length; i++) {
      let c0 = offset;
      let c1 = 0;
      let c2 = i;
      let c3 = 0;
      let k0 = this.keyLo;
      let k1 = this.keyHi;
      for (let round = 0; round < 10; round++) {
        // One Philox round: the high words of c0·M0 and c2·M1 mix into the other lanes with the key.
        // The high words come from 16-bit partial products (each below 2^32, so exact in doubles),
        // written out in the loop: it runs 10 times for every value of the latent.
        let lo = c0 & 0xffff;
        let hi = c0 >>> 16;
        let ll = lo * M0_LO;
        let lh = lo * M0_HI;
        let hl = hi * M0_LO;
        const hi0 = hi * M0_HI + (lh >>> 16) + (hl >>> 16) + (((ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16);
        lo = c2 & 0xffff;
        hi = c2 >>> 16;
        ll = lo * M1_LO;
        lh = lo * M1_HI;
        hl = hi * M1_LO;
        const hi1 = hi * M1_HI + (lh >>> 16) + (hl >>> 16) + (((ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16);
        const lo0 = Math.imul(c0, M0);
        const lo1 = Math.imul(c2, M1);
        c0 = (hi1 ^ c1 ^ k0) >>> 0;
        c1 = lo1 >>> 0;
        c2 = (hi0 ^ c3 ^ k1) >>> 0;
        c3 = lo0 >>> 0;
        k0 = (k0 + W0) >>> 0;
        k1 = (k1 + W1) >>> 0;
      }
      out[i] = boxMullerFirst(c0, c1);
    }
  }
}

// rng_philox.py's constants are float32 arrays; multiplying the uint32 words by them promotes to
// float64 in numpy, so u and v are float64 built from float32-rounded constants.
const TWO_POW32_INV = Math.fround(2.3283064e-10);
const TWO_POW32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855);

/** rng_philox.py `box_muller`: only the sine output, rounded to float32. */
function boxMullerFirst(x: number, y: number): number {
  const u = x * TWO_POW32_INV + TWO_POW32_INV / 2;
  const v = y * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
  return Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
}
