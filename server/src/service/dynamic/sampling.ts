import { Span } from '../semantics/spans';
import { AccessNode, AssignmentNode, DynamicNode, LiteralNode, VariantNode, WildcardNode } from './ast';
import { combinatorialGenerator } from './combinatorialSampler';
import { parseDynamicPrompt } from './parser';
import { PyRandom } from './pyRandom';
import { randomGenerator } from './randomSampler';
import { WildcardLibrary } from './wildcardLibrary';

/**
 * What dynamicprompts' samplers share (`sampling_context.py`, `samplers/base.py`,
 * `samplers/utils.py`): the context a command is sampled in, the choice of sampler per
 * command, variables, and the wildcard helpers. Samplers are JavaScript generators, lazy as
 * Python's are, so each image's prompt draws the same numbers in the same order as there.
 */
export type SamplingMethod = 'random' | 'combinatorial' | 'cyclical';

export interface SamplingContext {
  method: SamplingMethod;
  rand: PyRandom;
  library: WildcardLibrary;
  variables: ReadonlyMap<string, DynamicNode>;
  /** Variables being sampled now (a variable that uses itself is an error). */
  sampling: ReadonlySet<string>;
  /** Wildcards opened inside one another to get here. */
  depth?: number;
}

/** Deeper wildcard nesting than this is refused (Python would raise RecursionError). */
export const MAX_WILDCARD_DEPTH = 50;

/** The context for sampling a wildcard's values, one level deeper. */
export function descend(context: SamplingContext, at: WildcardNode): SamplingContext {
  const depth = (context.depth ?? 0) + 1;
  if (depth > MAX_WILDCARD_DEPTH) {
    throw new DynamicSamplingError(`Wildcard '${at.path}' opens wildcards more than ${MAX_WILDCARD_DEPTH} deep: does a value use its own wildcard?`, at.span);
  }
  return { ...context, depth };
}

/** A prompt that dynamicprompts stops on while sampling (undefined variable, bad wildcard value...). */
export class DynamicSamplingError extends Error {
  constructor(
    message: string,
    readonly span?: Span,
  ) {
    super(message);
  }
}

const SYMBOL_METHOD = { '~': 'random', '!': 'combinatorial', '@': 'cyclical' } as const;

export function isNonFinite(method: SamplingMethod): boolean {
  return method !== 'combinatorial';
}

function samplingOf(node: DynamicNode): SamplingMethod | undefined {
  return (node.kind === 'variant' || node.kind === 'wildcard') && node.sampling ? SYMBOL_METHOD[node.sampling] : undefined;
}

/** `get_sampler_and_context`: a finite method inside a non-finite one is ignored, as there. */
export function effectiveMethod(node: DynamicNode, context: SamplingContext): SamplingMethod {
  const wanted = samplingOf(node) ?? context.method;
  if (wanted !== context.method && isNonFinite(context.method) && !isNonFinite(wanted)) return context.method;
  return wanted;
}

/** `SamplingContext.generator_from_command`. */
export function generatorFrom(node: DynamicNode, context: SamplingContext): Iterator<string> {
  const method = effectiveMethod(node, context);
  const ctx = method === context.method ? context : { ...context, method };
  if (node.kind === 'assignment') {
    throw new DynamicSamplingError('dynamicprompts cannot sample a variable assignment on its own: write the prompt that uses it after it.', node.span);
  }
  if (node.kind === 'access') return variableGenerator(node, ctx);
  if (method === 'random') return randomGenerator(node, ctx);
  if (method === 'combinatorial') return combinatorialGenerator(node, ctx);
  throw new DynamicSamplingError("Cyclical sampling ('@') is not supported by sd-prompt yet.", node.span);
}

/** `Sampler._get_variable`: resolved when the generator is made, not when it is first read. */
function variableGenerator(node: AccessNode, context: SamplingContext): Iterator<string> {
  const value = context.variables.get(node.name) ?? node.default;
  if (!value) throw new DynamicSamplingError(`The variable '${node.name}' is not set before it is used here, and has no default.`, node.span);
  if (context.sampling.has(node.name)) throw new DynamicSamplingError(`The variable '${node.name}' uses itself.`, node.span);
  return generatorFrom(value, { ...context, sampling: new Set([...context.sampling, node.name]) });
}

export function withVariables(context: SamplingContext, variables: ReadonlyMap<string, DynamicNode>): SamplingContext {
  if (variables.size === 0) return context;
  return { ...context, variables: new Map([...context.variables, ...variables]) };
}

/**
 * `process_variable_assignments`: assignments leave the sequence; `${x=!...}` is sampled now
 * (in the sequence's context, before any of this sequence's own assignments), others keep
 * their command and are sampled where they are used.
 */
export function processAssignments(tokens: DynamicNode[], context: SamplingContext): [DynamicNode[], SamplingContext] {
  const assigned = new Map<string, DynamicNode>();
  const rest: DynamicNode[] = [];
  for (const token of tokens) {
    if (token.kind !== 'assignment') {
      rest.push(token);
      continue;
    }
    assigned.set(token.name, assignedValue(token, context));
  }
  return [rest, withVariables(context, assigned)];
}

function assignedValue(node: AssignmentNode, context: SamplingContext): DynamicNode {
  if (!node.immediate || node.value.kind === 'literal') return node.value;
  const first = generatorFrom(node.value, context).next();
  const literal: LiteralNode = { kind: 'literal', text: first.done ? '' : first.value, span: node.value.span };
  return literal;
}

/** `SamplingContext.sample_prompts(value, n)`: parses a text (a wildcard value) and samples it. */
export function samplePrompts(text: string, count: number | undefined, context: SamplingContext, at: WildcardNode): Iterator<string> {
  if (text === '') return [][Symbol.iterator]();
  const parsed = parseDynamicPrompt(text);
  if (!parsed.root) {
    throw new DynamicSamplingError(`The value '${text}' of wildcard '${at.path}' cannot be read: ${parsed.error!.message}`, at.span);
  }
  const gen = generatorFrom(parsed.root, descend(context, at));
  return anchored(count === undefined ? gen : take(gen, count), at);
}

/**
 * Errors from inside a wildcard's values get the wildcard's own range: the values' ranges are
 * in their file's lines, not in the prompt being expanded.
 */
export function* anchored(gen: Iterator<string>, at: WildcardNode): Generator<string> {
  try {
    for (let r = gen.next(); !r.done; r = gen.next()) yield r.value;
  } catch (e) {
    if (e instanceof DynamicSamplingError) throw new DynamicSamplingError(e.message, at.span);
    throw e;
  }
}

function* take(gen: Iterator<string>, count: number): Generator<string> {
  for (let i = 0; i < count; i++) {
    const r = gen.next();
    if (r.done) return;
    yield r.value;
  }
}

/** `replace_wildcard_variables`: `${name}` in a wildcard's name becomes the variable's text. */
export function resolveWildcardPath(node: WildcardNode, context: SamplingContext): WildcardNode {
  if (!node.path.includes('${')) return node;
  let unresolvable = false;
  const path = node.path.replace(/\$\{[ \t\r\n]*([A-Za-z_-][A-Za-z0-9_-]*)[ \t\r\n]*(?::([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
    const value = context.variables.get(name.trim());
    if (value && value.kind !== 'literal') unresolvable = true;
    const text = value?.kind === 'literal' ? value.text : '';
    return text || fallback?.trim() || name.trim();
  });
  return unresolvable ? node : { ...node, path };
}

/** `WildcardManager.to_wildcard`: what an unknown wildcard is written as in the prompt. */
export function wrappedWildcard(name: string): string {
  let w = name;
  if (!w.startsWith('__')) w = `__${w}`;
  if (!w.endsWith('__')) w = `${w}__`;
  return w;
}

/** The wildcard's variables (`__name(var=value)__`) added to the context. */
export function wildcardContext(node: WildcardNode, context: SamplingContext): SamplingContext {
  return withVariables(context, new Map(node.variables.map((v) => [v.name, v.value])));
}

/** `wildcard_to_variant`: `{2$$__name__}` picks among the wildcard's values. */
export function wildcardToVariant(node: WildcardNode, context: SamplingContext, min: number, max: number, separator: string): VariantNode {
  const resolved = resolveWildcardPath(node, context);
  const values = context.library.values(resolved.path);
  const lower = Math.min(min, values.length);
  const upper = Math.min(max, values.length);
  const options = [...values.weightedStrings()].map((text) => {
    const parsed = parseDynamicPrompt(text);
    if (!parsed.root) throw new DynamicSamplingError(`The value '${text}' of wildcard '${node.path}' cannot be read: ${parsed.error!.message}`, node.span);
    return { weight: 1, value: parsed.root, span: node.span };
  });
  const variant: VariantNode = {
    kind: 'variant',
    options,
    min: Math.max(0, Math.min(lower, upper)),
    max: Math.max(lower, upper),
    separator,
    span: node.span,
  };
  if (node.sampling) variant.sampling = node.sampling;
  return variant;
}

/** `SamplingResult.joined`: one result as is; else joined, one leading and trailing separator removed. */
export function joinResults(parts: string[], separator: string): string {
  if (parts.length === 1) return parts[0];
  let joined = parts.join(separator);
  if (separator) {
    if (joined.startsWith(separator)) joined = joined.slice(separator.length);
    if (joined.endsWith(separator)) joined = joined.slice(0, -separator.length);
  }
  return joined;
}

/** Python's `next(gen)` in a generator: an ended sub-generator is an error (PEP 479). */
export function nextOf(gen: Iterator<string>, node: DynamicNode): string {
  const r = gen.next();
  if (r.done) throw new DynamicSamplingError('This part of the prompt gives no text (dynamicprompts stops here).', node.span);
  return r.value;
}
