import { pyFloat } from './pyNumbers';
import { PY_DIGIT, PY_SPACE, pyStrRepr, pyWordBounded } from './pyText';

/**
 * A1111's `parse_prompt_attention`: emphasis by `re_attention` tokens and two bracket stacks.
 * Results are ranges of the input (before the final merge of equal weights) so the editor can
 * say which weight a character gets; `attentionPairs` gives A1111's own list.
 */
const RE_ATTENTION = new RegExp(
  [
    '\\\\\\(',
    '\\\\\\)',
    '\\\\\\[',
    '\\\\\\]',
    '\\\\\\\\',
    '\\\\',
    '\\(',
    '\\[',
    `:${PY_SPACE}*([+-]?[.${PY_DIGIT}]+)${PY_SPACE}*\\)`,
    '\\)',
    '\\]',
    '[^\\\\()\\[\\]:]+',
    ':',
  ].join('|'),
  'gu',
);
const BREAK_WORD = new RegExp(pyWordBounded('BREAK'), 'gu');
const SPACE = new RegExp(PY_SPACE, 'u');

const ROUND = 1.1;
const SQUARE = 1 / 1.1;

export interface AttentionSegment {
  text: string;
  weight: number;
  /** Input offsets the text came from; a BREAK marker spans the keyword and its whitespace. */
  start: number;
  end: number;
  /** Input offset of the text's first character where it is not `start`: an escape's, a BREAK keyword's. */
  textStart?: number;
  isBreak?: boolean;
  /** False while the weight is still A1111's int -1 of a BREAK marker (no bracket multiplied it). */
  scaled?: boolean;
}

export interface BracketEvent {
  kind: 'round' | 'square';
  open: number;
  /** Offset of the closing token, absent when the bracket is closed by the end of the text. */
  close?: number;
  closeEnd?: number;
  /** Explicit weight text `(x:1.2)`. */
  weightText?: string;
  multiplier: number;
}

export interface AttentionResult {
  segments: AttentionSegment[];
  /** Every opening bracket with how it ended, in opening order. */
  groups: BracketEvent[];
  /** Closers with nothing to close: A1111 keeps them as literal text. */
  strayClosers: number[];
  /** Set when A1111 raises on this text (`float()` of a weight like `.` or `1.2.3`). */
  error?: { message: string; start: number; end: number };
}

/** Cost bound for A1111's quadratic range multiplication; past it weights are computed in one sweep. */
export const EXACT_WORK_LIMIT = 5_000_000;

export function parseAttention(text: string): AttentionResult {
  const segments: AttentionSegment[] = [];
  const groups: BracketEvent[] = [];
  const strayClosers: number[] = [];
  const round: number[] = [];
  const square: number[] = [];
  const roundGroups: BracketEvent[] = [];
  const squareGroups: BracketEvent[] = [];
  // Each close multiplies segments [pos, len) in A1111; record them and apply after the scan.
  const closes: { from: number; to: number; multiplier: number }[] = [];
  let work = 0;
  let error: AttentionResult['error'];

  RE_ATTENTION.lastIndex = 0;
  for (let m = RE_ATTENTION.exec(text); m; m = RE_ATTENTION.exec(text)) {
    const token = m[0];
    const weight = m[1];
    const at = m.index;
    if (token.startsWith('\\')) {
      segments.push({ text: token.slice(1), weight: 1.0, start: at, end: at + token.length, textStart: at + 1 });
    } else if (token === '(') {
      round.push(segments.length);
      const g: BracketEvent = { kind: 'round', open: at, multiplier: ROUND };
      roundGroups.push(g);
      groups.push(g);
    } else if (token === '[') {
      square.push(segments.length);
      const g: BracketEvent = { kind: 'square', open: at, multiplier: SQUARE };
      squareGroups.push(g);
      groups.push(g);
    } else if (weight !== undefined && round.length) {
      const value = pyFloat(weight);
      const g = roundGroups.pop()!;
      g.close = at;
      g.closeEnd = at + token.length;
      g.weightText = weight;
      if (value === undefined) {
        const wStart = at + token.indexOf(weight);
        error ??= {
          message: `ValueError: could not convert string to float: ${pyStrRepr(weight)}`,
          start: wStart,
          end: wStart + weight.length,
        };
        round.pop();
        continue;
      }
      g.multiplier = value;
      const from = round.pop()!;
      closes.push({ from, to: segments.length, multiplier: value });
      work += segments.length - from;
    } else if (token === ')' && round.length) {
      const g = roundGroups.pop()!;
      g.close = at;
      g.closeEnd = at + 1;
      const from = round.pop()!;
      closes.push({ from, to: segments.length, multiplier: ROUND });
      work += segments.length - from;
    } else if (token === ']' && square.length) {
      const g = squareGroups.pop()!;
      g.close = at;
      g.closeEnd = at + 1;
      const from = square.pop()!;
      closes.push({ from, to: segments.length, multiplier: SQUARE });
      work += segments.length - from;
    } else {
      if (token === ')' || token === ']') strayClosers.push(at);
      splitBreaks(token, at, segments);
    }
  }
  // Brackets left open close at the end: all round ones (outermost first), then square ones.
  for (const from of round) {
    closes.push({ from, to: segments.length, multiplier: ROUND });
    work += segments.length - from;
  }
  for (const from of square) {
    closes.push({ from, to: segments.length, multiplier: SQUARE });
    work += segments.length - from;
  }
  if (work <= EXACT_WORK_LIMIT) {
    for (const c of closes) {
      for (let p = c.from; p < c.to; p++) {
        segments[p].weight *= c.multiplier;
        segments[p].scaled = true;
      }
    }
  } else {
    // Same products in one sweep; only the order of float multiplications differs (last-ulp).
    const factor = new Float64Array(segments.length + 1).fill(1);
    const zeroAt = new Int32Array(segments.length + 1);
    for (const c of closes) {
      if (c.multiplier === 0) {
        zeroAt[c.from]++;
        zeroAt[c.to]--;
      } else {
        factor[c.from] *= c.multiplier;
        factor[c.to] /= c.multiplier;
      }
    }
    let running = 1;
    let zeros = 0;
    for (let p = 0; p < segments.length; p++) {
      running *= factor[p];
      zeros += zeroAt[p];
      segments[p].weight *= zeros > 0 ? 0 : running;
      segments[p].scaled ||= running !== 1 || zeros > 0;
    }
  }
  return { segments, groups, strayClosers, error };
}

/**
 * `re.split(r"\s*\bBREAK\b\s*", token)`, written out: the regex form is quadratic on long
 * runs of spaces, and JS `\b` does not know Unicode letters.
 */
function splitBreaks(token: string, at: number, out: AttentionSegment[]) {
  let last = 0;
  if (token.includes('BREAK')) {
    BREAK_WORD.lastIndex = 0;
    for (let m = BREAK_WORD.exec(token); m; m = BREAK_WORD.exec(token)) {
      let start = m.index;
      while (start > last && SPACE.test(token[start - 1])) start--;
      let end = m.index + 5;
      while (end < token.length && SPACE.test(token[end])) end++;
      out.push({ text: token.slice(last, start), weight: 1.0, start: at + last, end: at + start });
      out.push({ text: 'BREAK', weight: -1, start: at + start, end: at + end, textStart: at + m.index, isBreak: true });
      last = end;
      BREAK_WORD.lastIndex = end;
    }
  }
  out.push({ text: token.slice(last), weight: 1.0, start: at + last, end: at + token.length });
}

/** A pair of A1111's result; `intWeight` marks the Python int -1 of an unscaled BREAK. */
export type AttentionPair = [string, number] & { intWeight?: boolean };

/** A1111's return value: pairs with runs of equal weight merged; or the error it raises. */
export function attentionPairs(result: AttentionResult): AttentionPair[] | { error: string } {
  if (result.error) return { error: result.error.message };
  const res: AttentionPair[] = result.segments.map((s) => {
    const pair: AttentionPair = [s.text, s.weight];
    if (s.isBreak && !s.scaled) pair.intWeight = true;
    return pair;
  });
  if (res.length === 0) return [['', 1.0]];
  const merged: AttentionPair[] = [res[0]];
  for (let i = 1; i < res.length; i++) {
    const last = merged[merged.length - 1];
    if (last[1] === res[i][1]) last[0] += res[i][0];
    else merged.push(res[i]);
  }
  return merged;
}

export function parsePromptAttention(text: string): AttentionPair[] | { error: string } {
  return attentionPairs(parseAttention(text));
}
