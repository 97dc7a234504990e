import { Span } from '../semantics/spans';
import { closestName } from '../features/checks/suggest';
import { DynamicNode, walkDynamic } from './ast';
import { parseDynamicPrompt } from './parser';
import { WildcardLibrary } from './wildcardLibrary';

/**
 * What is wrong or surprising in a dynamic prompt, each with its range: the syntax error
 * that stops dynamicprompts, a `}` it keeps as text, an empty option, a bound it has to
 * adjust, and a wildcard no file gives (with the closest known name).
 */
export interface DynamicProblem {
  code: 'dynamic-unbalanced-brace' | 'dynamic-syntax' | 'dynamic-empty-option' | 'dynamic-impossible-range' | 'wildcard-unknown';
  severity: 'error' | 'warning' | 'information';
  message: string;
  span: Span;
  /** For `wildcard-unknown`: the known name to offer instead. */
  suggestion?: string;
}

export function findDynamicProblems(text: string, base: number, library?: WildcardLibrary): DynamicProblem[] {
  const parsed = parseDynamicPrompt(text, base);
  if (!parsed.root) {
    const e = parsed.error!;
    return [{ code: e.code, severity: 'error', message: e.message, span: e.span }];
  }
  const problems: DynamicProblem[] = [];
  const root = parsed.root;
  // A '}' outside any variant is literal text to dynamicprompts (only '{' opens one).
  for (const node of topLevelLiterals(root)) {
    for (let i = node.text.indexOf('}'); i >= 0; i = node.text.indexOf('}', i + 1)) {
      const at = node.span.start + literalOffset(text, base, node, i);
      problems.push({
        code: 'dynamic-unbalanced-brace',
        severity: 'warning',
        message: "Unbalanced braces: this '}' closes no '{'; dynamicprompts keeps it as text.",
        span: { start: at, end: at + 1 },
      });
    }
  }
  walkDynamic(root, (node) => {
    if (node.kind === 'variant') variantProblems(node, problems);
    if (node.kind === 'wildcard' && library) {
      const problem = unknownWildcard(node.path, node.pathSpan, library);
      if (problem) problems.push(problem);
    }
  });
  return problems.sort((a, b) => a.span.start - b.span.start);
}

function topLevelLiterals(root: DynamicNode): Extract<DynamicNode, { kind: 'literal' }>[] {
  if (root.kind === 'literal') return [root];
  if (root.kind === 'sequence') return root.tokens.filter((t): t is Extract<DynamicNode, { kind: 'literal' }> => t.kind === 'literal');
  return [];
}

/** Offset in the source of character `i` of a literal's text (its pieces are joined by one space where a comment stood). */
function literalOffset(text: string, base: number, node: { text: string; span: Span }, i: number): number {
  const source = text.slice(node.span.start - base, node.span.end - base);
  if (source.startsWith(node.text)) return i;
  // Count the same '}' in the source.
  const nth = node.text.slice(0, i).split('}').length - 1;
  let at = -1;
  for (let k = 0; k <= nth; k++) at = source.indexOf('}', at + 1);
  return Math.max(0, at);
}

function variantProblems(node: Extract<DynamicNode, { kind: 'variant' }>, problems: DynamicProblem[]): void {
  const n = node.options.length;
  if (n > 1) {
    for (const option of node.options) {
      if (option.value.kind === 'sequence' && option.value.tokens.length === 0) {
        problems.push({
          code: 'dynamic-empty-option',
          severity: 'information',
          message: 'Empty option: dynamicprompts picks it like the others and writes nothing in its place.',
          span: option.span.start === option.span.end ? { start: option.span.start, end: option.span.start } : option.span,
        });
      }
    }
  }
  const bound = node.bound;
  if (!bound) return;
  const only = n === 1 && node.options[0].value.kind === 'wildcard';
  if (only) return; // the wildcard's values are counted when the prompt is sampled
  const { exact, lower, upper } = bound;
  if (lower !== undefined && upper !== undefined && lower > upper) {
    problems.push({
      code: 'dynamic-impossible-range',
      severity: 'warning',
      message: `Impossible range ${lower}-${upper}: dynamicprompts swaps it and picks ${upper} to ${Math.min(lower, n)}.`,
      span: bound.span,
    });
    return;
  }
  const wanted = exact ?? lower ?? 0;
  if (wanted > n) {
    const which = exact !== undefined ? `${exact}` : `at least ${lower}`;
    problems.push({
      code: 'dynamic-impossible-range',
      severity: 'warning',
      message: `Impossible range: ${which} of ${n} option${n === 1 ? '' : 's'}; dynamicprompts picks all ${n} instead.`,
      span: bound.span,
    });
  } else if (upper !== undefined && upper > n) {
    problems.push({
      code: 'dynamic-impossible-range',
      severity: 'warning',
      message: `Impossible range: up to ${upper} of ${n} option${n === 1 ? '' : 's'}; dynamicprompts picks at most ${n}.`,
      span: bound.span,
    });
  }
}

function unknownWildcard(path: string, span: Span, library: WildcardLibrary): DynamicProblem | undefined {
  if (path.includes('${')) return undefined; // named by a variable: known only when sampled
  if (library.values(path).length > 0) return undefined;
  const suggestion = closestName(path, library.names());
  const problem: DynamicProblem = {
    code: 'wildcard-unknown',
    severity: 'warning',
    message: `No wildcard file gives '__${path}__': dynamicprompts writes it as it stands.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
    span,
  };
  if (suggestion) problem.suggestion = suggestion;
  return problem;
}
