/** Levenshtein distance, capped: returns `cap + 1` once the distance exceeds `cap`. */
export function editDistance(a: string, b: string, cap = 3): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]);
    }
    if (rowMin > cap) return cap + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidate: same text ignoring case first, then the smallest edit distance. */
export function closest(word: string, candidates: readonly string[], cap = 2): string | undefined {
  const lower = word.toLowerCase();
  const sameCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameCase) return sameCase;
  let best: string | undefined;
  let bestDistance = cap + 1;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase(), cap);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * A did-you-mean for a name typed by a person: same text in another case first, then the
 * smallest edit distance allowed for its length (a quarter of it, at least 2).
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  return closest(name, candidates, Math.max(2, Math.floor(name.length / 4)));
}
