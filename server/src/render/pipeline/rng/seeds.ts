/**
 * A1111's `get_fixed_seed`: -1 (or no seed) becomes `random.randrange(4294967294)`; any other
 * seed is kept as written (a seed past 2^32 is legal there: the CPU generator keeps its low 32
 * bits, the Philox generator all 64).
 */
export function resolveSeed(seed: number | undefined): number {
  return seed === undefined || seed < 0 ? Math.floor(Math.random() * 4294967294) : Math.floor(seed);
}

/**
 * `processing.py`: the seeds and variation seeds of a batch. Each image's seed is the first +1,
 * except with a variation strength, where every image keeps the first seed and only the
 * variation seeds count up.
 */
export function batchSeeds(seed: number, subseed: number, subseedStrength: number, images: number): { seeds: number[]; subseeds: number[] } {
  const seeds: number[] = [];
  const subseeds: number[] = [];
  for (let x = 0; x < images; x++) {
    seeds.push(seed + (subseedStrength === 0 ? x : 0));
    subseeds.push(subseed + x);
  }
  return { seeds, subseeds };
}
