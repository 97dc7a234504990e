import { DynamicNode, VariantNode, WildcardNode, nodeKey } from './ast';
import { PyRandom } from './pyRandom';
import {
  DynamicSamplingError,
  SamplingContext,
  generatorFrom,
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
 * dynamicprompts' RandomSampler (`samplers/random.py` over `samplers/base.py`), draw for draw:
 * a variant draws `randint(min, max)` then one weighted `choices` per pick (without
 * replacement); a wildcard draws `choice` over its sorted values (`choices` ten at a time when
 * its values have different weights). Every generator is infinite.
 */
export function randomGenerator(node: DynamicNode, context: SamplingContext): Iterator<string> {
  switch (node.kind) {
    case 'literal':
      return literal(node.text);
    case 'sequence':
      return sequence(node.tokens, context);
    case 'variant':
      return variant(node, context);
    case 'wildcard':
      return wildcard(node, context);
    case 'wrap':
      return wrap(node.wrapper, node.inner, context);
    default:
      return generatorFrom(node, context);
  }
}

function* literal(text: string): Generator<string> {
  for (;;) yield text;
}

/** `Sampler._get_sequence`: assignments first, then each part's next value, joined. */
export function* sequence(tokens: DynamicNode[], context: SamplingContext): Generator<string> {
  const [rest, ctx] = processAssignments(tokens, context);
  const parts = rest.map((t) => generatorFrom(t, ctx));
  for (;;) yield joinResults(parts.map((g, i) => nextOf(g, rest[i])), '');
}

function* variant(node: VariantNode, context: SamplingContext): Generator<string> {
  const values = node.options.map((o) => o.value);
  if (values.length === 0) return;
  if (values.length === 1) {
    const only = values[0];
    if (only.kind === 'wildcard') yield* anchored(variant(wildcardToVariant(only, context, node.min, node.max, node.separator), descend(context, only)), only);
    else yield* iterate(generatorFrom(only, context));
    return;
  }
  const weights = node.options.map((o) => o.weight);
  for (;;) {
    const min = Math.min(node.min, values.length);
    const max = Math.min(node.max, values.length);
    const count = Math.min(max, context.rand.randint(min, max));
    const chosen = chooseWithoutReplacement(values, weights, count, context.rand);
    const parts = chosen.map((c) => generatorFrom(c, context));
    yield parts.length === 0 ? '' : joinResults(parts.map((g, i) => nextOf(g, chosen[i])), node.separator);
  }
}

function* iterate(gen: Iterator<string>): Generator<string> {
  for (let r = gen.next(); !r.done; r = gen.next()) yield r.value;
}

/**
 * `choose_without_replacement`: one `choices(values, weights)` per pick; the pick and a weight
 * equal to its weight are then removed by equality, as Python's `list.remove` does (so two
 * equal options, or equal weights, shift exactly as they do there).
 */
export function chooseWithoutReplacement(values: DynamicNode[], weights: number[], count: number, rand: PyRandom): DynamicNode[] {
  const vals = [...values];
  let ws = weights.length ? [...weights] : vals.map(() => 1);
  if (vals.length < count) throw new RangeError(`You asked for ${count} values, but only ${vals.length} are available.`);
  if (vals.length <= 1) return vals;
  const keys = vals.map(nodeKey);
  const chosen: DynamicNode[] = [];
  for (let i = 0; i < count; i++) {
    const pick = rand.choices(vals.map((_, j) => j), { weights: ws })[0];
    chosen.push(vals[pick]);
    const first = keys.indexOf(keys[pick]);
    const weightAt = ws.indexOf(ws[first]);
    ws = [...ws.slice(0, weightAt), ...ws.slice(weightAt + 1)];
    vals.splice(first, 1);
    keys.splice(first, 1);
  }
  return chosen;
}

function* wildcard(node: WildcardNode, context: SamplingContext): Generator<string> {
  const resolved = resolveWildcardPath(node, context);
  const ctx = wildcardContext(resolved, context);
  const values = ctx.library.values(resolved.path);
  if (values.length === 0) {
    const text = wrappedWildcard(resolved.path);
    for (;;) yield text;
  }
  if (values.stringValues.every((v) => v === '')) {
    // dynamicprompts skips an empty value and draws again: with only empty values it never ends.
    throw new DynamicSamplingError(`Every value of '${wrappedWildcard(resolved.path)}' is empty: dynamicprompts would draw forever.`, node.span);
  }
  const picks = weightedRandom(values.stringValues, values.hasVariedWeights ? values.cumWeights : undefined, ctx.rand);
  for (;;) {
    const value = picks.next().value as string;
    yield* iterate(samplePrompts(value, 1, ctx, resolved));
  }
}

/** `WildcardValues.get_weighted_random_generator`. */
function* weightedRandom(values: string[], cumWeights: number[] | undefined, rand: PyRandom): Generator<string> {
  if (!cumWeights) for (;;) yield rand.choice(values);
  for (;;) yield* rand.choices(values, { cumWeights, k: 10 });
}

/** `_get_wrap`: the wrapper's text split at its first `...` or ellipsis, the inner text put there. */
function* wrap(wrapper: DynamicNode, inner: DynamicNode, context: SamplingContext): Generator<string> {
  const outer = generatorFrom(wrapper, context);
  const content = generatorFrom(inner, context);
  for (;;) {
    const w = outer.next();
    if (w.done) return;
    const i = content.next();
    if (i.done) return;
    yield wrapText(w.value, i.value);
  }
}

const WRAP_MARKER = /[\u1801\u2026\u22ee\u22ef\u22f0\u22f1\ufe19]+|\.{3,}/;

export function wrapText(wrapper: string, inner: string): string {
  const m = WRAP_MARKER.exec(wrapper);
  if (!m) return wrapper + inner;
  return wrapper.slice(0, m.index) + inner + wrapper.slice(m.index + m[0].length);
}
