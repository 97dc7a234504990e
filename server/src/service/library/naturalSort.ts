/**
 * A1111's `natural_sort_key`: digit runs compare as numbers, the rest case-insensitively.
 * It fixes the scan order, and the scan order decides which of two same-named files wins.
 */
const DIGITS = /(\d+)/;

export function naturalKey(s: string): (string | number)[] {
  return s.split(DIGITS).map((part) => (/^\d+$/.test(part) ? Number(part) : part.toLowerCase()));
}

export function naturalCompare(a: string, b: string): number {
  return compareKeys(naturalKey(a), naturalKey(b));
}

export function compareKeys(ka: (string | number)[], kb: (string | number)[]): number {
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const x = ka[i];
    const y = kb[i];
    if (x === y) continue;
    // Python compares int with str only when both sides are at the same slot type, which the
    // alternating split guarantees (str, int, str, ...).
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return ka.length - kb.length;
}
