/**
 * Seeded N(0,1) noise: xoshiro128** seeded by splitmix32 from the 32-bit seed, Box–Muller.
 * Deterministic across machines; not torch's generator, so the same seed does not give A1111's
 * image (that would need torch's Mersenne Twister and its vectorised Box–Muller).
 */
export function seededNormal(seed: number): (out: Float32Array) => void {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
  return (out: Float32Array) => {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = Math.max(next(), 1e-12);
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A1111's seed for -1: a random 32-bit value. */
export function resolveSeed(seed: number | undefined): number {
  return seed === undefined || seed < 0 ? Math.floor(Math.random() * 4294967294) : Math.floor(seed) % 4294967296;
}
