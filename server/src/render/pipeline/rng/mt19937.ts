/**
 * The 32-bit Mersenne Twister (MT19937) as torch's CPU generator runs it (`at::mt19937`): seeded
 * with the low 32 bits of the seed by the reference `init_genrand`, tempered outputs. torch's
 * `manual_seed(s)` on a CPU generator is exactly this engine restarted from `s`.
 */
export class Mt19937 {
  private readonly state = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    const s = this.state;
    // torch keeps `seed & 0xffffffff`; a seed past 2^32 (a seed plus ENSD) wraps. `>>> 0` is
    // ToUint32: the integer part modulo 2^32, exact for every integer a number holds (up to 2^53).
    s[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = s[i - 1] ^ (s[i - 1] >>> 30);
      s[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** The next tempered 32-bit output (`engine_()`, torch's `random()`). */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % 624] & 0x7fffffff);
      s[i] = s[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}
