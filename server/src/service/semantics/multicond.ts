import { pyFloat } from './pyNumbers';
import { PY_SPACE, pyWordBounded } from './pyText';

/**
 * `AND` composition as A1111's `get_multicond_prompt_list` does it: split on `\bAND\b`, then
 * each part may end in `:weight` (`re_weight`). Offsets are kept for the editor.
 */
const RE_AND = new RegExp(pyWordBounded('AND'), 'gu');
const SPACE = new RegExp(PY_SPACE, 'u');

export interface Subprompt {
  /** The subprompt's text as A1111 keeps it (weight and trailing space removed). */
  text: string;
  weight: number;
  /** Offsets in the input: the whole part between ANDs, the kept text, the weight number. */
  start: number;
  end: number;
  textEnd: number;
  weightSpan?: { start: number; end: number };
}

export interface AndSplit {
  subprompts: Subprompt[];
  /** Offsets of each `AND` keyword. */
  ands: number[];
}

export function splitAnd(text: string): AndSplit {
  const ands: number[] = [];
  const subprompts: Subprompt[] = [];
  let last = 0;
  RE_AND.lastIndex = 0;
  for (let m = RE_AND.exec(text); m; m = RE_AND.exec(text)) {
    ands.push(m.index);
    subprompts.push(subprompt(text, last, m.index));
    last = m.index + 3;
  }
  subprompts.push(subprompt(text, last, text.length));
  return { subprompts, ands };
}

/** `re_weight` = `^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`, read from the end. */
function subprompt(full: string, start: number, end: number): Subprompt {
  const part = full.slice(start, end);
  let trimmedEnd = part.length;
  while (trimmedEnd > 0 && SPACE.test(part[trimmedEnd - 1])) trimmedEnd--;
  const trimmed = part.slice(0, trimmedEnd);
  const weight = trailingWeight(trimmed);
  if (weight) {
    return {
      text: trimmed.slice(0, weight.textEnd),
      weight: pyFloat(weight.number)!,
      start,
      end,
      textEnd: start + weight.textEnd,
      weightSpan: { start: start + weight.numberStart, end: start + trimmed.length },
    };
  }
  return { text: trimmed, weight: 1.0, start, end, textEnd: start + trimmed.length };
}

// Python's `\d` is any Unicode decimal digit, and `float()` reads those too. Sticky: the
// number must start where the run does, and trying later starts would be quadratic.
const NUMBER_TAIL = /[-+]?(?:\p{Nd}+\.?|\p{Nd}*\.\p{Nd}+)$/uy;
const DIGIT_OR_DOT = /[\p{Nd}.]/u;

/** Length in UTF-16 units of the character ending at `j`: digits like `𝟙` are surrogate pairs. */
function charLengthBefore(s: string, j: number): number {
  const low = s.charCodeAt(j - 1);
  return j >= 2 && low >= 0xdc00 && low <= 0xdfff && s.charCodeAt(j - 2) >= 0xd800 && s.charCodeAt(j - 2) <= 0xdbff ? 2 : 1;
}

function trailingWeight(s: string): { textEnd: number; numberStart: number; number: string } | undefined {
  // The number is the whole run of digits and dots before the end (plus a sign).
  let j = s.length;
  while (j > 0 && DIGIT_OR_DOT.test(s.slice(j - charLengthBefore(s, j), j))) j -= charLengthBefore(s, j);
  if (j === s.length) return undefined;
  if (j > 0 && (s[j - 1] === '+' || s[j - 1] === '-')) j--;
  const number = s.slice(j);
  NUMBER_TAIL.lastIndex = 0;
  if (!NUMBER_TAIL.test(number)) return undefined;
  let k = j;
  while (k > 0 && SPACE.test(s[k - 1])) k--;
  if (k === 0 || s[k - 1] !== ':') return undefined;
  k--;
  while (k > 0 && SPACE.test(s[k - 1])) k--;
  return { textEnd: k, numberStart: j, number };
}

export interface MulticondResult {
  res_indexes: [number, number][][];
  prompt_flat_list: string[];
  prompt_indexes: Record<string, number>;
}

/** `get_multicond_prompt_list(prompts)`. */
export function multicondPromptList(prompts: string[]): MulticondResult {
  const res_indexes: [number, number][][] = [];
  const prompt_flat_list: string[] = [];
  const indexOf = new Map<string, number>();
  for (const prompt of prompts) {
    const indexes: [number, number][] = [];
    for (const sub of splitAnd(prompt).subprompts) {
      let index = indexOf.get(sub.text);
      if (index === undefined) {
        index = prompt_flat_list.length;
        prompt_flat_list.push(sub.text);
        indexOf.set(sub.text, index);
      }
      indexes.push([index, sub.weight]);
    }
    res_indexes.push(indexes);
  }
  const prompt_indexes: Record<string, number> = {};
  for (const [text, index] of indexOf) prompt_indexes[text] = index;
  return { res_indexes, prompt_flat_list, prompt_indexes };
}
