import { DynamicNode, VariantNode, WildcardNode, nodeKey } from './ast';
import {
  DynamicSamplingError,
  SamplingContext,
  effectiveMethod,
  generatorFrom,
  isNonFinite,
  joinResults,
  nextOf,
  processAssignments,
  resolveWildcardPath,
  samplePrompts,
  anchored,
  descend,
  wildcardContext,
  wildcardToVariant,
  wrappedWildcard,
} from './sampling';

/**
 * dynamicprompts' CombinatorialSampler (`samplers/combinatorial.py`): every combination, the
 * first part of a prompt varying slowest; a variant gives its options for each bound from
 * min to max, as ordered picks of distinct options with duplicate texts dropped; a wildcard
 * gives its sorted values. A part marked `~` keeps drawing at random inside it.
 */
export function combinatorialGenerator(node: DynamicNode, context: SamplingContext): Iterator<string> {
  switch (node.kind) {
    case 'literal':
      return once(node.text);
    case 'sequence':
      return sequence(node.tokens, context);
    case 'variant':
      return variant(node, context);
    case 'wildcard':
      return wildcard(node, context);
    case 'wrap':
      throw new DynamicSamplingError("dynamicprompts' combinatorial mode cannot sample '%{...$$...}'.", node.span);
    default:
      return generatorFrom(node, context);
  }
}

function* once(text: string): Generator<string> {
  yield text;
}

function* iterate(gen: Iterator<string>): Generator<string> {
  for (let r = gen.next(); !r.done; r = gen.next()) yield r.value;
}

function* sequence(tokens: DynamicNode[], context: SamplingContext): Generator<string> {
  const [rest, ctx] = processAssignments(tokens, context);
  // CommandCollection: one running generator per non-finite part, read once per combination.
  const running = new Map<DynamicNode, Iterator<string>>();
  const valueOf = (node: DynamicNode) => {
    let gen = running.get(node);
    if (!gen) running.set(node, (gen = generatorFrom(node, ctx)));
    return nextOf(gen, node);
  };
  function* from(i: number): Generator<string[]> {
    if (i === rest.length) {
      yield [];
      return;
    }
    const first = rest[i];
    if (isNonFinite(effectiveMethod(first, ctx))) {
      for (const tail of from(i + 1)) {
        const value = valueOf(first);
        yield value ? [value, ...tail] : tail;
      }
    } else {
      for (const head of iterate(generatorFrom(first, ctx))) for (const tail of from(i + 1)) yield [head, ...tail];
    }
  }
  for (const words of from(0)) yield words.join('');
}

function* variant(node: VariantNode, context: SamplingContext): Generator<string> {
  if (node.options.length === 0) return;
  const only = node.options.length === 1 ? node.options[0].value : undefined;
  if (only?.kind === 'wildcard') {
    yield* anchored(variant(wildcardToVariant(only, context, node.min, node.max, node.separator), descend(context, only)), only);
    return;
  }
  const values = node.options.map((o) => o.value);
  const min = Math.min(node.min, values.length);
  const max = Math.min(node.max, values.length);
  const seen = new Set<string>();
  for (let bound = min; bound <= max; bound++) {
    for (const combo of valueCombinations(values, bound)) {
      for (const words of comboToPrompt(context, combo)) {
        const deduped = [...new Set(words)];
        const key = JSON.stringify(deduped);
        if (deduped.length === bound && !seen.has(key)) {
          seen.add(key);
          yield joinResults(deduped, node.separator);
        }
      }
    }
  }
}

/** `get_value_combinations`: ordered picks of k options; equal options count once. */
function* valueCombinations(values: DynamicNode[], k: number): Generator<DynamicNode[]> {
  if (k <= 0) {
    yield [];
    return;
  }
  for (const value of values) {
    const key = nodeKey(value);
    const others = values.filter((v) => nodeKey(v) !== key);
    for (const tail of valueCombinations(others, k - 1)) yield [value, ...tail];
  }
}

function* comboToPrompt(context: SamplingContext, combo: DynamicNode[]): Generator<string[]> {
  if (combo.length === 0) {
    yield [];
    return;
  }
  const [first, ...rest] = combo;
  const gen = generatorFrom(first, context);
  if (isNonFinite(effectiveMethod(first, context))) {
    for (const tail of comboToPrompt(context, rest)) yield [nextOf(gen, first), ...tail];
  } else {
    for (const head of iterate(gen)) for (const tail of comboToPrompt(context, rest)) yield [head, ...tail];
  }
}

function* wildcard(node: WildcardNode, context: SamplingContext): Generator<string> {
  const resolved = resolveWildcardPath(node, context);
  const ctx = wildcardContext(resolved, context);
  const values = ctx.library.values(resolved.path);
  if (values.length === 0) {
    // dynamicprompts repeats an unknown wildcard without end here, which hangs the webui once a
    // variant drops the repeats: say so instead.
    throw new DynamicSamplingError(
      `No wildcard file gives '${wrappedWildcard(resolved.path)}': listing every combination of it would never end (dynamicprompts repeats it forever).`,
      node.span,
    );
  }
  for (const value of values.weightedStrings()) yield* iterate(samplePrompts(value, undefined, ctx, resolved));
}

