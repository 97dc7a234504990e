import { Span } from '../semantics/spans';

/**
 * A dynamic prompt (sd-dynamic-prompts syntax) as dynamicprompts 0.31.0 reads it: its
 * commands, each with its source range (offsets into the text given to the parser, plus
 * that call's base offset).
 */
export type DynamicNode = LiteralNode | SequenceNode | VariantNode | WildcardNode | AssignmentNode | AccessNode | WrapNode;

/** `~` random, `!` combinatorial, `@` cyclical: a sampler for this part only. */
export type SamplingSymbol = '~' | '!' | '@';

export interface LiteralNode {
  kind: 'literal';
  /** The text dynamicprompts keeps: pieces split by a comment are joined with one space, as it does. */
  text: string;
  span: Span;
}

export interface SequenceNode {
  kind: 'sequence';
  tokens: DynamicNode[];
  span: Span;
}

export interface VariantOption {
  weight: number;
  /** The `0.5::` prefix, when written. */
  weightSpan?: Span;
  value: DynamicNode;
  /** From after the `{` or `|` to before the next `|` or `}`. */
  span: Span;
}

export interface VariantNode {
  kind: 'variant';
  options: VariantOption[];
  /** The bounds after dynamicprompts' own adjustment (sorted, at least 0; not yet clamped to the options). */
  min: number;
  max: number;
  separator: string;
  sampling?: SamplingSymbol;
  /** The bound as written (`2`, `1-3`, `-2`, `2-`), before dynamicprompts sorts and clamps it. */
  bound?: { exact?: number; lower?: number; upper?: number; span: Span };
  span: Span;
}

export interface WildcardNode {
  kind: 'wildcard';
  /** The name or glob between the `__`s, `${var}` references left in. */
  path: string;
  pathSpan: Span;
  sampling?: SamplingSymbol;
  /** `__name(var=value, ...)__` */
  variables: { name: string; value: DynamicNode }[];
  span: Span;
}

export interface AssignmentNode {
  kind: 'assignment';
  name: string;
  nameSpan: Span;
  value: DynamicNode;
  /** `${name=!value}`: sampled once, where the assignment stands. */
  immediate: boolean;
  span: Span;
}

export interface AccessNode {
  kind: 'access';
  name: string;
  nameSpan: Span;
  default?: DynamicNode;
  span: Span;
}

export interface WrapNode {
  kind: 'wrap';
  wrapper: DynamicNode;
  inner: DynamicNode;
  span: Span;
}

/** Visits every node, parents first. */
export function walkDynamic(node: DynamicNode, visit: (node: DynamicNode) => void): void {
  visit(node);
  switch (node.kind) {
    case 'sequence':
      for (const t of node.tokens) walkDynamic(t, visit);
      break;
    case 'variant':
      for (const o of node.options) walkDynamic(o.value, visit);
      break;
    case 'wildcard':
      for (const v of node.variables) walkDynamic(v.value, visit);
      break;
    case 'assignment':
      walkDynamic(node.value, visit);
      break;
    case 'access':
      if (node.default) walkDynamic(node.default, visit);
      break;
    case 'wrap':
      walkDynamic(node.wrapper, visit);
      walkDynamic(node.inner, visit);
      break;
  }
}

/**
 * A key equal for two nodes exactly when dynamicprompts' command dataclasses compare equal
 * (ranges play no part): its samplers remove options by equality, not by position.
 */
export function nodeKey(node: DynamicNode): string {
  switch (node.kind) {
    case 'literal':
      return `L${JSON.stringify(node.text)}`;
    case 'sequence':
      return `S[${node.tokens.map(nodeKey).join(',')}]`;
    case 'variant':
      return `V${node.min},${node.max},${JSON.stringify(node.separator)},${node.sampling ?? ''}[${node.options
        .map((o) => `${o.weight}:${nodeKey(o.value)}`)
        .join(',')}]`;
    case 'wildcard':
      return `W${JSON.stringify(node.path)}${node.sampling ?? ''}{${node.variables.map((v) => `${v.name}=${nodeKey(v.value)}`).join(',')}}`;
    case 'assignment':
      return `A${node.name}${node.immediate ? '!' : ''}=${nodeKey(node.value)}`;
    case 'access':
      return `R${node.name}:${node.default ? nodeKey(node.default) : ''}`;
    case 'wrap':
      return `P${nodeKey(node.wrapper)}$${nodeKey(node.inner)}`;
  }
}
