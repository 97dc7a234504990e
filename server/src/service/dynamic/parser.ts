import { pyFloat } from '../semantics/pyNumbers';
import { Span } from '../semantics/spans';
import { DynamicNode, LiteralNode, SamplingSymbol, VariantNode, VariantOption } from './ast';

/**
 * The dynamic-prompt grammar of dynamicprompts 0.31.0 (its pyparsing grammar in
 * `parser/parse.py`, rewritten as a backtracking descent parser with source ranges):
 *
 *   prompt        := chunk*            chunk := ${n=v} | ${n} | %{w$$i} | {variants} | __wildcard__ | literal+
 *   variant text  := vchunk*           vchunk := ${n} | %{w$$i} | {variants} | __wildcard__ | vliteral+
 *   variants      := '{' ws? [~!@]? (bound '$$' (separator '$$')?)? ws? option ('|' option)* ws? '}'
 *   option        := ws? (number '::')? variant-text ws?
 *
 * Literal text stops at `# { $ %` (inside a variant also at `| }`) and before `__`; `#`, `//`
 * and C-style comments are skipped (with the spaces before them) wherever a token may start,
 * as pyparsing's `ignore` does; tabs are expanded to 8 columns first, as `parse_string` does.
 * The parse is all or nothing, as in dynamicprompts: a text it cannot read gets one error.
 */
export interface DynamicSyntaxError {
  code: 'dynamic-unbalanced-brace' | 'dynamic-syntax';
  message: string;
  span: Span;
}

export interface DynamicParse {
  root?: DynamicNode;
  error?: DynamicSyntaxError;
  /** Comments dynamicprompts skips (`#`, `//`, `/* *\/`). */
  comments: Span[];
}

/** Parses `text`; every range is `base` plus an offset into `text`. Never throws. */
export function parseDynamicPrompt(text: string, base = 0): DynamicParse {
  const parser = new Parser(text, base);
  return parser.parseAll();
}

/** Deeper nesting than this is refused (pyparsing hits Python's recursion limit well before it). */
export const MAX_NESTING = 64;

const WHITE = new Set([' ', '\t', '\n', '\r']);
const SAMPLING = new Set(['~', '!', '@']);
const REAL = /[+-]?(?:\p{Nd}+\.\p{Nd}*|\.\p{Nd}+)/uy;
const VAR_NAME = /[A-Za-z_-][A-Za-z0-9_-]*/y;
const PATH_VARIABLE = /\$\{[ \t\r\n]*[A-Za-z_-][A-Za-z0-9_-]*[ \t\r\n]*(?::[^}]*)?\}/y;

interface Parsed<T> {
  value: T;
  start: number;
  end: number;
}

/** Python's `str.expandtabs()` with the offset map back to the original text. */
function expandTabs(text: string): { text: string; toOriginal?: number[] } {
  if (!text.includes('\t')) return { text };
  let out = '';
  const toOriginal: number[] = [];
  let column = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\t') {
      const spaces = 8 - (column % 8);
      for (let s = 0; s < spaces; s++) toOriginal.push(i);
      out += ' '.repeat(spaces);
      column += spaces;
    } else {
      toOriginal.push(i);
      out += c;
      column = c === '\n' || c === '\r' ? 0 : column + 1;
    }
  }
  toOriginal.push(text.length);
  return { text: out, toOriginal };
}

class Parser {
  private readonly src: string;
  private readonly toOriginal?: number[];
  private readonly comments = new Map<number, Span>();
  private nestedError?: DynamicSyntaxError;
  private depth = 0;
  /** Where nesting passed MAX_NESTING (the parse then fails there). */
  private tooDeep?: number;

  constructor(
    original: string,
    private readonly base: number,
  ) {
    const expanded = expandTabs(original);
    this.src = expanded.text;
    this.toOriginal = expanded.toOriginal;
  }

  parseAll(): DynamicParse {
    const root = this.prompt(0, false);
    let end = this.skip(root.end);
    while (end < this.src.length && WHITE.has(this.src[end])) end++;
    const comments = [...this.comments.values()].sort((a, b) => a.start - b.start);
    if (this.tooDeep !== undefined) {
      const at = this.tooDeep;
      return { error: { code: 'dynamic-syntax', message: `Nested more than ${MAX_NESTING} levels deep: dynamicprompts (Python) gives up on it.`, span: this.span(at, at) }, comments };
    }
    if (end < this.src.length) return { error: this.nestedError ?? this.diagnose(root.end), comments };
    return { root: root.value, comments };
  }

  // ---- positions -------------------------------------------------------------------------------

  private at(i: number): number {
    return this.base + (this.toOriginal ? this.toOriginal[i] : i);
  }

  private span(start: number, end: number): Span {
    return { start: this.at(start), end: this.at(end) };
  }

  /** pyparsing's `_skipIgnorables`: comments, each with the whitespace before it. */
  private skip(p: number): number {
    for (;;) {
      const q = this.skipOneComment(p);
      if (q === p) return p;
      p = q;
    }
  }

  private skipOneComment(p: number): number {
    const s = this.src;
    let q = p;
    while (q < s.length && WHITE.has(s[q])) q++;
    let end = -1;
    if (s[q] === '#' || s.startsWith('//', q)) {
      end = s.indexOf('\n', q);
      if (end < 0) end = s.length;
    } else if (s.startsWith('/*', q)) {
      const close = s.indexOf('*/', q + 2);
      if (close >= 0) end = close + 2;
    }
    if (end < 0) return p;
    this.comments.set(q, this.span(q, end));
    return end;
  }

  /** A fixed token after any comments; its start in `tokenStart`. */
  private tokenStart = 0;
  private token(p: number, text: string): number {
    const q = this.skip(p);
    this.tokenStart = q;
    return this.src.startsWith(text, q) ? q + text.length : -1;
  }

  /** `Opt(White())`. */
  private optWs(p: number): number {
    const q = this.skip(p);
    let r = q;
    while (r < this.src.length && WHITE.has(this.src[r])) r++;
    return r > q ? r : p;
  }

  private regex(p: number, re: RegExp): Parsed<string> | undefined {
    const q = this.skip(p);
    re.lastIndex = q;
    const m = re.exec(this.src);
    return m && m[0].length > 0 ? { value: m[0], start: q, end: q + m[0].length } : undefined;
  }

  /** `Word(nums)`: ASCII digits. */
  private integer(p: number): Parsed<number> | undefined {
    const q = this.skip(p);
    let r = q;
    while (r < this.src.length && this.src[r] >= '0' && this.src[r] <= '9') r++;
    return r > q ? { value: Number(this.src.slice(q, r)), start: q, end: r } : undefined;
  }

  private sampling(p: number): Parsed<SamplingSymbol> | undefined {
    const q = this.skip(p);
    return SAMPLING.has(this.src[q]) ? { value: this.src[q] as SamplingSymbol, start: q, end: q + 1 } : undefined;
  }

  // ---- grammar ---------------------------------------------------------------------------------

  /** `ZeroOrMore(chunk)`: one child is returned as is, others as a sequence. */
  private prompt(p: number, inVariant: boolean): Parsed<DynamicNode> {
    if (this.depth >= MAX_NESTING) {
      this.tooDeep ??= p;
      return { value: { kind: 'sequence', tokens: [], span: this.span(p, p) }, start: p, end: p };
    }
    this.depth++;
    try {
      return this.promptBody(p, inVariant);
    } finally {
      this.depth--;
    }
  }

  private promptBody(p: number, inVariant: boolean): Parsed<DynamicNode> {
    const tokens: DynamicNode[] = [];
    let end = p;
    let first = -1;
    for (;;) {
      const chunk = this.chunk(end, inVariant);
      if (!chunk) break;
      if (first < 0) first = chunk.start;
      tokens.push(chunk.value);
      end = chunk.end;
    }
    if (tokens.length === 1) return { value: tokens[0], start: first, end };
    const start = first < 0 ? p : first;
    return { value: { kind: 'sequence', tokens, span: this.span(start, end) }, start, end };
  }

  /**
   * `assignment | access | wrap | variants | wildcard | literal`, tried in that order; each
   * alternative needs its own opening after the comments, so only the one it names is tried.
   */
  private chunk(p: number, inVariant: boolean): Parsed<DynamicNode> | undefined {
    const q = this.skip(p);
    const s = this.src;
    if (s.startsWith('${', q)) return (inVariant ? undefined : this.assignment(p)) ?? this.access(p);
    if (s.startsWith('%{', q)) return this.wrap(p);
    if (s[q] === '{') return this.variants(p);
    if (s.startsWith('__', q)) return this.wildcard(p);
    return this.literalSequence(p, inVariant);
  }

  private literal(p: number, inVariant: boolean): Parsed<string> | undefined {
    const s = this.src;
    const q = this.skip(p);
    let r = q;
    while (r < s.length) {
      const c = s[r];
      if (c === '#' || c === '{' || c === '$' || c === '%') break;
      if (inVariant && (c === '|' || c === '}')) break;
      if (c === '_' && s[r + 1] === '_') break;
      r++;
    }
    return r > q ? { value: s.slice(q, r), start: q, end: r } : undefined;
  }

  private literalSequence(p: number, inVariant: boolean): Parsed<LiteralNode> | undefined {
    const first = this.literal(p, inVariant);
    if (!first) return undefined;
    const pieces = [first.value];
    let end = first.end;
    for (let next = this.literal(end, inVariant); next; next = this.literal(end, inVariant)) {
      pieces.push(next.value);
      end = next.end;
    }
    return { value: { kind: 'literal', text: pieces.join(' '), span: this.span(first.start, end) }, start: first.start, end };
  }

  private variants(p: number): Parsed<VariantNode> | undefined {
    let at = this.token(p, '{');
    if (at < 0) return undefined;
    const start = this.tokenStart;
    at = this.optWs(at);
    const sampling = this.sampling(at);
    if (sampling) at = sampling.end;
    const bound = this.boundExpression(at);
    if (bound) at = bound.end;
    at = this.optWs(at);
    const options: VariantOption[] = [];
    let option = this.option(at);
    options.push(option.value);
    at = option.end;
    for (;;) {
      const bar = this.token(at, '|');
      if (bar < 0) break;
      option = this.option(bar);
      options.push(option.value);
      at = option.end;
    }
    at = this.optWs(at);
    const close = this.token(at, '}');
    if (close < 0) return undefined;

    // dynamicprompts' _parse_bound_expr, then VariantCommand.__post_init__ (sort, floor at 0).
    let lower = 1;
    let upper = 1;
    let separator = ',';
    if (bound) {
      const b = bound.value;
      lower = b.exact ?? b.lower ?? 1;
      upper = b.exact ?? b.upper ?? options.length;
      separator = b.separator;
    }
    const min = Math.max(0, Math.min(lower, upper));
    const max = Math.max(lower, upper);
    const node: VariantNode = { kind: 'variant', options, min, max, separator, span: this.span(start, close) };
    if (sampling) node.sampling = sampling.value;
    if (bound) {
      const { exact, lower: lo, upper: up } = bound.value;
      node.bound = { span: this.span(bound.start, bound.value.rangeEnd) };
      if (exact !== undefined) node.bound.exact = exact;
      if (lo !== undefined) node.bound.lower = lo;
      if (up !== undefined) node.bound.upper = up;
    }
    return { value: node, start, end: close };
  }

  private boundExpression(
    p: number,
  ): Parsed<{ exact?: number; lower?: number; upper?: number; separator: string; rangeEnd: number }> | undefined {
    let range: { exact?: number; lower?: number; upper?: number } | undefined;
    let start = -1;
    let at = -1;
    const first = this.integer(p);
    if (first) {
      const hyphen = this.token(first.end, '-');
      const second = hyphen >= 0 ? this.integer(hyphen) : undefined;
      if (second) [range, at] = [{ lower: first.value, upper: second.value }, second.end];
      else if (hyphen >= 0) [range, at] = [{ lower: first.value }, hyphen];
      else [range, at] = [{ exact: first.value }, first.end];
      start = first.start;
    } else {
      const hyphen = this.token(p, '-');
      const upper = hyphen >= 0 ? this.integer(hyphen) : undefined;
      if (!upper) return undefined;
      start = this.tokenStart;
      [range, at] = [{ upper: upper.value }, upper.end];
    }
    const rangeEnd = at;
    const delimiter = this.token(at, '$$');
    if (delimiter < 0) return undefined;
    let separator = ',';
    let end = delimiter;
    const word = this.separatorWord(delimiter);
    if (word) {
      const second = this.token(word.end, '$$');
      if (second >= 0) [separator, end] = [word.value, second];
    }
    return { value: { ...range, separator, rangeEnd }, start, end };
  }

  /** `Word(printables + " ", exclude_chars="${}")`. */
  private separatorWord(p: number): Parsed<string> | undefined {
    const q = this.skip(p);
    let r = q;
    while (r < this.src.length) {
      const code = this.src.charCodeAt(r);
      if (code < 32 || code > 126 || code === 36 || code === 123 || code === 125) break;
      r++;
    }
    return r > q ? { value: this.src.slice(q, r), start: q, end: r } : undefined;
  }

  private option(p: number): Parsed<VariantOption> {
    let at = this.optWs(p);
    let weight = 1;
    let weightSpan: Span | undefined;
    const number = this.regex(at, REAL) ?? this.integerText(at);
    if (number) {
      const delimiter = this.token(number.end, '::');
      if (delimiter >= 0) {
        weight = pyFloat(number.value) ?? 1;
        weightSpan = this.span(number.start, delimiter);
        at = delimiter;
      }
    }
    const value = this.prompt(at, true);
    const end = this.optWs(value.end);
    const option: VariantOption = { weight, value: value.value, span: this.span(p, end) };
    if (weightSpan) option.weightSpan = weightSpan;
    return { value: option, start: p, end };
  }

  private integerText(p: number): Parsed<string> | undefined {
    const n = this.integer(p);
    return n ? { value: this.src.slice(n.start, n.end), start: n.start, end: n.end } : undefined;
  }

  private variableHead(p: number): { start: number; name: Parsed<string>; end: number } | undefined {
    let at = this.token(p, '${');
    if (at < 0) return undefined;
    const start = this.tokenStart;
    at = this.optWs(at);
    const name = this.regex(at, VAR_NAME);
    if (!name) return undefined;
    return { start, name, end: this.optWs(name.end) };
  }

  private assignment(p: number): Parsed<DynamicNode> | undefined {
    const head = this.variableHead(p);
    if (!head) return undefined;
    let at = this.token(head.end, '=');
    if (at < 0) return undefined;
    const bang = this.token(at, '!');
    const immediate = bang >= 0;
    if (immediate) at = bang;
    at = this.optWs(at);
    const value = this.prompt(at, true);
    const close = this.token(this.optWs(value.end), '}');
    if (close < 0) return undefined;
    return {
      value: {
        kind: 'assignment',
        name: head.name.value,
        nameSpan: this.span(head.name.start, head.name.end),
        value: value.value,
        immediate,
        span: this.span(head.start, close),
      },
      start: head.start,
      end: close,
    };
  }

  private access(p: number): Parsed<DynamicNode> | undefined {
    const head = this.variableHead(p);
    if (!head) return undefined;
    let at = head.end;
    let fallback: DynamicNode | undefined;
    const colon = this.token(at, ':');
    if (colon >= 0) {
      const value = this.prompt(this.optWs(colon), true);
      fallback = value.value;
      at = value.end;
    }
    const close = this.token(this.optWs(at), '}');
    if (close < 0) return undefined;
    const node: DynamicNode = {
      kind: 'access',
      name: head.name.value,
      nameSpan: this.span(head.name.start, head.name.end),
      span: this.span(head.start, close),
    };
    if (fallback) node.default = fallback;
    return { value: node, start: head.start, end: close };
  }

  private wrap(p: number): Parsed<DynamicNode> | undefined {
    let at = this.token(p, '%{');
    if (at < 0) return undefined;
    const start = this.tokenStart;
    const wrapper = this.prompt(this.optWs(at), true);
    at = this.token(this.optWs(wrapper.end), '$$');
    if (at < 0) return undefined;
    const inner = this.prompt(this.optWs(at), true);
    const close = this.token(inner.end, '}');
    if (close < 0) return undefined;
    return { value: { kind: 'wrap', wrapper: wrapper.value, inner: inner.value, span: this.span(start, close) }, start, end: close };
  }

  private wildcard(p: number): Parsed<DynamicNode> | undefined {
    let at = this.token(p, '__');
    if (at < 0) return undefined;
    const start = this.tokenStart;
    const sampling = this.sampling(at);
    if (sampling) at = sampling.end;
    const path = this.wildcardPath(at);
    if (!path) return undefined;
    at = path.end;
    const variables: { name: string; value: DynamicNode }[] = [];
    const open = this.token(this.optWs(at), '(');
    if (open >= 0) {
      const spec = this.regex(open, /[^)]+/y);
      const close = spec ? this.token(spec.end, ')') : -1;
      if (spec && close >= 0) {
        const parsed = this.variableSpec(spec.value, spec.start);
        if (!parsed) return undefined;
        variables.push(...parsed);
        at = close;
      }
    }
    const end = this.token(at, '__');
    if (end < 0) return undefined;
    const node: DynamicNode = {
      kind: 'wildcard',
      path: path.value,
      pathSpan: this.span(path.start, path.end),
      variables,
      span: this.span(start, end),
    };
    if (sampling) node.sampling = sampling.value;
    return { value: node, start, end };
  }

  /** `Combine(OneOrMore(${var} | path text))`: no comments skipped inside the name. */
  private wildcardPath(p: number): Parsed<string> | undefined {
    const s = this.src;
    const q = this.skip(p);
    let r = q;
    for (;;) {
      PATH_VARIABLE.lastIndex = r;
      const variable = PATH_VARIABLE.exec(s);
      if (variable) {
        r += variable[0].length;
        continue;
      }
      let t = r;
      while (t < s.length && !'(${}#'.includes(s[t]) && !(s[t] === '_' && s[t + 1] === '_')) t++;
      if (t === r) break;
      r = t;
    }
    return r > q ? { value: s.slice(q, r), start: q, end: r } : undefined;
  }

  /** dynamicprompts' `_parse_variable_spec`: `a=b, c={x|y}`, each value parsed on its own. */
  private variableSpec(spec: string, specStart: number): { name: string; value: DynamicNode }[] | undefined {
    const out: { name: string; value: DynamicNode }[] = [];
    let offset = 0;
    for (const pair of spec.split(',')) {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const raw = eq < 0 ? '' : pair.slice(eq + 1);
      const value = pyStrip(raw);
      const valueAt = specStart + offset + (eq < 0 ? pair.length : eq + 1) + (raw.length - raw.replace(/^[\s]+/u, '').length);
      offset += pair.length + 1;
      let node: DynamicNode;
      if (/^[\p{L}\p{N}]+$/u.test(value)) node = { kind: 'literal', text: value, span: this.span(valueAt, valueAt + value.length) };
      else {
        const inner = parseDynamicPrompt(value, this.at(valueAt));
        if (!inner.root) {
          this.nestedError ??= inner.error;
          return undefined;
        }
        node = inner.root;
      }
      out.push({ name: pyStrip(key), value: node });
    }
    return out;
  }

  // ---- errors ----------------------------------------------------------------------------------

  /** Says why the text from `p` on could not be read, at the construct that stopped it. */
  private diagnose(p: number): DynamicSyntaxError {
    const s = this.src;
    const q = this.skip(p);
    const c = s[q];
    if (c === '}') return { code: 'dynamic-unbalanced-brace', message: "Unbalanced braces: this '}' closes no '{'.", span: this.span(q, q + 1) };
    if (c === '{') {
      let depth = 0;
      let close = -1;
      for (let i = q; i < s.length; i++) {
        if (s[i] === '{') depth++;
        else if (s[i] === '}' && --depth === 0) {
          close = i;
          break;
        }
      }
      if (close < 0) {
        return { code: 'dynamic-unbalanced-brace', message: "Unbalanced braces: this '{' is never closed.", span: this.span(q, q + 1) };
      }
      const inner = this.firstStray(q + 1, close);
      if (inner) return inner;
      return { code: 'dynamic-syntax', message: 'dynamicprompts cannot read this variant.', span: this.span(q, close + 1) };
    }
    return this.firstStray(q, s.length) ?? { code: 'dynamic-syntax', message: 'dynamicprompts cannot read the prompt from here.', span: this.span(q, Math.min(s.length, q + 1)) };
  }

  private firstStray(from: number, to: number): DynamicSyntaxError | undefined {
    const s = this.src;
    for (let i = from; i < to; i++) {
      if (s[i] === '$' && s[i + 1] === '$') {
        i++;
        continue;
      }
      if (s[i] === '$') {
        const message = s[i + 1] === '{'
          ? "dynamicprompts cannot read this variable: write '${name}', '${name:default}', '${name=value}' or '${name=!value}'."
          : "A '$' stops dynamicprompts: it reads '$' only in '${variable}' and in '{2$$...}'.";
        return { code: 'dynamic-syntax', message, span: this.span(i, i + (s[i + 1] === '{' ? 2 : 1)) };
      }
      if (s[i] === '%') {
        return {
          code: 'dynamic-syntax',
          message: "A '%' stops dynamicprompts: it reads '%' only as '%{wrapper ... $$ inner}'.",
          span: this.span(i, i + (s[i + 1] === '{' ? 2 : 1)),
        };
      }
      if (s[i] === '_' && s[i + 1] === '_') {
        let end = s.indexOf('__', i + 2);
        if (end < 0) {
          let stop = i + 2;
          while (stop < s.length && !'{}|#\n'.includes(s[stop])) stop++;
          return { code: 'dynamic-syntax', message: "This wildcard has no closing '__'.", span: this.span(i, stop) };
        }
        i = end + 1;
      }
    }
    return undefined;
  }
}

/** Python's `str.strip()` (its whitespace set). */
export function pyStrip(text: string): string {
  return text.replace(/^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}
