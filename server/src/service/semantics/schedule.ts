import { pyFloat } from './pyNumbers';
import { PY_SPACE } from './pyText';

/**
 * Prompt editing and alternation as A1111's `get_learned_conditioning_prompt_schedules`
 * reads them. A1111 parses with a lark Earley grammar:
 *
 *   start: (prompt | /[][():]/+)*
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   plain: /([^\\\[\]():|]|\\.)+/
 *
 * Inside brackets every `[ ] ( ) : |` must belong to a construct; at the top level stray
 * `[ ] ( ) :` are literal text, but a `|` outside an alternation, or a backslash before a
 * newline or at the end, makes the whole parse fail and A1111 then silently uses the prompt
 * as it is, with no scheduling at all. Where both a construct and literal brackets would
 * parse, the construct wins (checked against lark 1.1.5 by differential tests).
 *
 * This is a memoized recursive descent: each bracket position is parsed at most once, so
 * the parse is linear in the text.
 */

export interface PromptRange {
  start: number;
  end: number;
  /** Schedules and alternations directly inside this range, in order. */
  holes: Hole[];
}

export interface ScheduleHole {
  kind: 'scheduled';
  start: number;
  end: number;
  /** Absent for `[to:when]`. */
  from?: PromptRange;
  to: PromptRange;
  /** The NUMBER token as written, and where. */
  number: string;
  numberStart: number;
}

export interface AlternateHole {
  kind: 'alternate';
  start: number;
  end: number;
  /** `undefined` for an option written as nothing between two `|` (after the first). */
  options: (PromptRange | undefined)[];
}

export type Hole = ScheduleHole | AlternateHole;

export interface ScheduleFailure {
  /** Offset of what made the parse fail. */
  offset: number;
  reason: 'pipe' | 'backslash' | 'depth';
}

export type ScheduleParse = { ok: true; root: PromptRange } | { ok: false; failure: ScheduleFailure };

const NUMBER = /[+-]?(?:\d+[eE][+-]?\d+|(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+)/y;
// lark's WHITESPACE is Python's `\s`, which differs from JS `\s` (U+001C-U+001F, U+0085, U+FEFF).
const WHITESPACE = new RegExp(`${PY_SPACE}+`, 'uy');
const MAX_DEPTH = 400;
const TOP_SPECIAL = /[|\\[(]/g;
const NESTED_SPECIAL = /[|\\[()\]:]/g;

/** `target.push(...items)` without the spread, which overflows the stack on huge arrays. */
function append<T>(target: T[], items: readonly T[]): T[] {
  for (const item of items) target.push(item);
  return target;
}

class DepthExceeded {
  constructor(readonly offset: number) {}
}

/** Parses `text` with A1111's schedule grammar. Never throws. */
export function parseSchedule(text: string): ScheduleParse {
  const parser = new Parser(text);
  try {
    return parser.parseStart();
  } catch (e) {
    if (e instanceof DepthExceeded) return { ok: false, failure: { offset: e.offset, reason: 'depth' } };
    throw e;
  }
}

/** A construct's end, and the holes it gives its enclosing prompt (emphasis passes its own on). */
type Bracketed = { end: number; holes: Hole[] } | null;

class Parser {
  private readonly memo = new Map<number, Bracketed>();
  private depth = 0;

  constructor(private readonly text: string) {}

  parseStart(): ScheduleParse {
    const text = this.text;
    const holes: Hole[] = [];
    let i = 0;
    while (i < text.length) {
      // Jump over plain text: only these characters can start or break anything here.
      TOP_SPECIAL.lastIndex = i;
      if (!TOP_SPECIAL.test(text)) break;
      i = TOP_SPECIAL.lastIndex - 1;
      const ch = text[i];
      if (ch === '|') return { ok: false, failure: { offset: i, reason: 'pipe' } };
      if (ch === '\\') {
        if (i + 1 >= text.length || text[i + 1] === '\n') return { ok: false, failure: { offset: i, reason: 'backslash' } };
        i += 2;
        continue;
      }
      if (ch === '[' || ch === '(') {
        const r = this.bracketed(i);
        if (r) {
          append(holes, r.holes);
          i = r.end;
          continue;
        }
      }
      // Plain text, whitespace or a literal bracket run: all reproduce themselves.
      i++;
    }
    return { ok: true, root: { start: 0, end: text.length, holes } };
  }

  /** A `prompt` inside brackets from `start`: stops at the first character it cannot take. */
  private prompt(start: number): PromptRange {
    const text = this.text;
    const holes: Hole[] = [];
    let i = start;
    while (i < text.length) {
      NESTED_SPECIAL.lastIndex = i;
      if (!NESTED_SPECIAL.test(text)) {
        i = text.length;
        break;
      }
      i = NESTED_SPECIAL.lastIndex - 1;
      const ch = text[i];
      if (ch === '\\') {
        if (i + 1 >= text.length || text[i + 1] === '\n') break;
        i += 2;
        continue;
      }
      if (ch === '[' || ch === '(') {
        const r = this.bracketed(i);
        if (!r) break;
        append(holes, r.holes);
        i = r.end;
        continue;
      }
      if (ch === ']' || ch === ')' || ch === ':' || ch === '|') break;
      i++;
    }
    return { start, end: i, holes };
  }

  /** An emphasized, scheduled or alternate construct at `start` (a `[` or `(`), or null. */
  private bracketed(start: number): Bracketed {
    const cached = this.memo.get(start);
    if (cached !== undefined) return cached;
    if (++this.depth > MAX_DEPTH) throw new DepthExceeded(start);
    const result = this.text[start] === '(' ? this.round(start) : this.square(start);
    this.depth--;
    this.memo.set(start, result);
    return result;
  }

  private round(start: number): Bracketed {
    const first = this.prompt(start + 1);
    const ch = this.text[first.end];
    if (ch === ')') return { end: first.end + 1, holes: first.holes };
    if (ch !== ':') return null;
    const second = this.prompt(first.end + 1);
    if (this.text[second.end] !== ')') return null;
    return { end: second.end + 1, holes: append(first.holes, second.holes) };
  }

  private square(start: number): Bracketed {
    const text = this.text;
    const first = this.prompt(start + 1);
    const ch = text[first.end];
    if (ch === ']') return { end: first.end + 1, holes: first.holes };
    if (ch === '|') {
      const options: (PromptRange | undefined)[] = [first];
      let i = first.end;
      while (text[i] === '|') {
        const option = this.prompt(i + 1);
        // lark gives None for `[prompt]` matching nothing; A1111 turns None into "".
        options.push(option.end > option.start ? option : undefined);
        i = option.end;
      }
      if (text[i] !== ']') return null;
      return { end: i + 1, holes: [{ kind: 'alternate', start, end: i + 1, options }] };
    }
    if (ch !== ':') return null;
    const afterColon = first.end + 1;
    const direct = this.numberClose(afterColon);
    if (direct) {
      return { end: direct.end, holes: [{ kind: 'scheduled', start, end: direct.end, to: first, ...direct.number }] };
    }
    const second = this.prompt(afterColon);
    if (text[second.end] !== ':') return null;
    const close = this.numberClose(second.end + 1);
    if (!close) return null;
    return {
      end: close.end,
      holes: [{ kind: 'scheduled', start, end: close.end, from: first, to: second, ...close.number }],
    };
  }

  /** `[WHITESPACE] NUMBER [WHITESPACE] "]"` at `at`. */
  private numberClose(at: number): { end: number; number: { number: string; numberStart: number } } | null {
    const text = this.text;
    let i = at;
    WHITESPACE.lastIndex = i;
    if (WHITESPACE.test(text)) i = WHITESPACE.lastIndex;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return null;
    const numberStart = i;
    i = NUMBER.lastIndex;
    WHITESPACE.lastIndex = i;
    if (WHITESPACE.test(text)) i = WHITESPACE.lastIndex;
    if (text[i] !== ']') return null;
    return { end: i + 1, number: { number: m[0], numberStart } };
  }
}

export interface ScheduleOptions {
  baseSteps: number;
  hiresSteps?: number | null;
  useOldScheduling?: boolean;
}

/** The step a `[...:when]` switches at, as A1111 computes it (`int()` truncates, clamped to steps). */
export function switchStep(number: string, options: ScheduleOptions): number {
  const { steps, intOffset, fltOffset } = stepFrame(options);
  let v = pyFloat(number) ?? 0;
  if (options.useOldScheduling) v = v < 1 ? v * steps : v;
  else if (number.includes('.')) v = (v - fltOffset) * steps;
  else v = v - intOffset;
  return Math.min(steps, Math.trunc(v));
}

function stepFrame(options: ScheduleOptions) {
  const hires = options.hiresSteps;
  if (hires === null || hires === undefined || options.useOldScheduling) {
    return { steps: options.baseSteps, intOffset: 0, fltOffset: 0 };
  }
  return { steps: hires, intOffset: options.baseSteps, fltOffset: 1.0 };
}

/**
 * The first `[...:when]` whose number overflows a float (`1e999`): A1111's `int(v)` on it raises
 * OverflowError for every step setting, failing the generation, where `promptSchedule` (which
 * never throws) clamps it to the last step. Callers that report errors check this.
 */
export function scheduleOverflow(parse: ScheduleParse): ScheduleHole | undefined {
  if (!parse.ok) return undefined;
  const visit = (range: PromptRange | undefined): ScheduleHole | undefined => {
    if (!range) return undefined;
    for (const hole of range.holes) {
      const found =
        hole.kind === 'scheduled'
          ? Number.isFinite(pyFloat(hole.number) ?? 0)
            ? (visit(hole.from) ?? visit(hole.to))
            : hole
          : hole.options.reduce<ScheduleHole | undefined>((acc, o) => acc ?? visit(o), undefined);
      if (found) return found;
    }
    return undefined;
  };
  return visit(parse.root);
}

export type Schedule = [number, string][];

/** `get_learned_conditioning_prompt_schedules([text], ...)[0]`. */
export function promptSchedule(text: string, options: ScheduleOptions, parse = parseSchedule(text)): Schedule {
  return scheduleVariants(text, options, parse).map((v) => [v.step, v.text]);
}

/** One step's text, with where each of its characters sits in the input. */
export interface ScheduleVariant {
  step: number;
  text: string;
  /** Start offset in the input of each run of characters copied from it, for offset mapping. */
  pieces: { at: number; from: number; length: number }[];
}

/** The schedule with source offsets: what A1111 encodes at each switch step, and where it came from. */
export function scheduleVariants(text: string, options: ScheduleOptions, parse = parseSchedule(text)): ScheduleVariant[] {
  const { steps } = stepFrame(options);
  if (!parse.ok) return [{ step: steps, text, pieces: [{ at: 0, from: 0, length: text.length }] }];
  const whenOf = new Map<ScheduleHole, number>();
  const switchSteps = new Set<number>([steps]);
  let alternates = false;
  const visit = (range: PromptRange | undefined) => {
    if (!range) return;
    for (const hole of range.holes) {
      if (hole.kind === 'scheduled') {
        const when = switchStep(hole.number, options);
        whenOf.set(hole, when);
        if (when >= 1) switchSteps.add(when);
        visit(hole.from);
        visit(hole.to);
      } else {
        alternates = true;
        hole.options.forEach(visit);
      }
    }
  };
  visit(parse.root);
  if (alternates) for (let s = 1; s <= steps; s++) switchSteps.add(s);
  return [...switchSteps]
    .sort((a, b) => a - b)
    .map((step) => {
      const parts: string[] = [];
      const pieces: ScheduleVariant['pieces'] = [];
      let length = 0;
      const copy = (from: number, to: number) => {
        if (to <= from) return;
        parts.push(text.slice(from, to));
        pieces.push({ at: length, from, length: to - from });
        length += to - from;
      };
      const expand = (range: PromptRange) => {
        let at = range.start;
        for (const hole of range.holes) {
          copy(at, hole.start);
          const chosen =
            hole.kind === 'scheduled'
              ? step <= whenOf.get(hole)!
                ? hole.from
                : hole.to
              : hole.options[(step - 1) % hole.options.length];
          if (chosen) expand(chosen);
          at = hole.end;
        }
        copy(at, range.end);
      };
      expand(parse.root);
      return { step, text: parts.join(''), pieces };
    });
}

/** Input offset of a variant's character (the end maps past the last copied character). */
export function variantOffset(variant: ScheduleVariant, offset: number): number {
  const pieces = variant.pieces;
  let lo = 0;
  let hi = pieces.length - 1;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pieces[mid].at <= offset) lo = mid;
    else hi = mid - 1;
  }
  const p = pieces[lo];
  return p.from + Math.min(offset - p.at, p.length);
}
