import { DynamicNode } from './ast';
import { cleanWildcard } from './wildcardLibrary';
import { parseDynamicPrompt } from './parser';
import { WildcardLibrary } from './wildcardLibrary';

/**
 * How many prompts combinatorial mode gives for a dynamic prompt (for a hover): a sequence
 * multiplies, a variant sums over each bound k the ordered picks of k distinct options (the
 * product of their own counts), a wildcard sums its values' counts. Options or values that
 * give the same text are counted apart, so this is what dynamicprompts lists at most.
 * Infinity when it does not fit a double.
 */
export function countCombinations(node: DynamicNode, library?: WildcardLibrary, depth = 0, open: Set<string> = new Set()): number {
  if (depth > 64) return Infinity;
  switch (node.kind) {
    case 'literal':
      return 1;
    case 'sequence':
      return node.tokens.filter((t) => t.kind !== 'assignment').reduce((n, t) => n * countCombinations(t, library, depth + 1, open), 1);
    case 'assignment':
      return 1;
    case 'access':
      return node.default ? countCombinations(node.default, library, depth + 1, open) : 1;
    case 'wrap':
      return countCombinations(node.wrapper, library, depth + 1, open) * countCombinations(node.inner, library, depth + 1, open);
    case 'wildcard':
      return wildcardCounts(node.path, library, depth, open).reduce((a, b) => a + b, 0) || 1;
    case 'variant': {
      let counts: number[];
      const only = node.options.length === 1 ? node.options[0].value : undefined;
      if (only?.kind === 'wildcard') counts = wildcardCounts(only.path, library, depth, open);
      else counts = node.options.map((o) => countCombinations(o.value, library, depth + 1, open));
      const n = counts.length;
      const min = Math.min(node.min, n);
      const max = Math.min(node.max, n);
      // e[k]: sum over k-subsets of the product of their counts; ordered picks are k! times that.
      const e = [1, ...new Array(n).fill(0)];
      for (const c of counts) for (let k = n; k >= 1; k--) e[k] += e[k - 1] * c;
      let total = 0;
      let factorial = 1;
      for (let k = 1; k <= max; k++) {
        factorial *= k;
        if (k >= min) total += e[k] * factorial;
      }
      if (min === 0) total += 1;
      return total;
    }
  }
}

/** Counts per wildcard name; cleared when the library changes (keyed by the library object). */
const memos = new WeakMap<WildcardLibrary, Map<string, number[]>>();

function wildcardCounts(path: string, library: WildcardLibrary | undefined, depth: number, open: Set<string>): number[] {
  if (!library || cleanWildcard(path) === undefined) return [];
  let memo = memos.get(library);
  if (!memo) memos.set(library, (memo = new Map()));
  // A wildcard whose values use it again never ends (dynamicprompts recurses until Python stops it).
  if (open.has(path)) return [Infinity];
  const known = memo.get(path);
  if (known) return known;
  open.add(path);
  try {
    const counts = new Map<string, number>();
    const result = [...library.values(path).weightedStrings()].map((value) => {
      let n = counts.get(value);
      if (n === undefined) {
        const parsed = parseDynamicPrompt(value);
        n = parsed.root ? countCombinations(parsed.root, library, depth + 1, open) : 1;
        counts.set(value, n);
      }
      return n;
    });
    memo.set(path, result);
    return result;
  } finally {
    open.delete(path);
  }
}
