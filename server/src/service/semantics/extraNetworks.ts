import { pyFloat, pyInt } from './pyNumbers';
import { PY_WORD, pyStrRepr } from './pyText';
import { MappedText, Span } from './spans';

/**
 * Extra-network tags exactly as A1111's `extra_networks.parse_prompt` finds them:
 * regex `<(\w+):([^>]+)>`, arguments split on `:`, an argument is named when `split("=", 2)`
 * gives exactly two parts. Names and arguments are never trimmed.
 */
const WORD_RUN = new RegExp(`${PY_WORD}+`, 'uy');

export interface TagArgument {
  /** The raw item, exactly as A1111 sees it (spaces kept). */
  text: string;
  span: Span;
  /** For a named item `key=value`. */
  key?: string;
  value?: string;
  keySpan?: Span;
  valueSpan?: Span;
}

export interface ExtraNetworkTag {
  span: Span;
  type: string;
  typeSpan: Span;
  /** Every `:`-separated item; items[0] is the network's name. */
  items: TagArgument[];
  positional: string[];
  named: Record<string, string>;
}

export interface ExtraNetworkParse {
  /** The prompt with every tag removed, still mapped to the document. */
  prompt: MappedText;
  tags: ExtraNetworkTag[];
}

export function parseExtraNetworks(prompt: MappedText): ExtraNetworkParse {
  const tags: ExtraNetworkTag[] = [];
  const matches = findTagMatches(prompt.text);
  const cleaned = prompt.replaceMatches(matches, (m) => {
    tags.push(tagFromMatch(prompt, m));
    return { text: '', at: m.index };
  });
  return { prompt: cleaned, tags };
}

/**
 * Matches of `<(\w+):([^>]+)>`, left to right and non-overlapping as `re.sub` finds them.
 * `[^>]+` can only end at the first `>` after the colon, so one look-up of that `>` per
 * candidate keeps this linear even on text full of `<` and no `>`.
 */
function findTagMatches(text: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  let nextGt = -2;
  let i = text.indexOf('<');
  while (i !== -1) {
    WORD_RUN.lastIndex = i + 1;
    const word = WORD_RUN.exec(text);
    const colon = i + 1 + (word ? word[0].length : 0);
    if (word && text[colon] === ':') {
      if (nextGt !== -1 && nextGt <= colon) nextGt = text.indexOf('>', colon + 1);
      if (nextGt === -1) break;
      if (nextGt > colon + 1) {
        const m = [text.slice(i, nextGt + 1), word[0], text.slice(colon + 1, nextGt)] as unknown as RegExpExecArray;
        m.index = i;
        out.push(m);
        i = text.indexOf('<', nextGt + 1);
        continue;
      }
    }
    i = text.indexOf('<', i + 1);
  }
  return out;
}

function tagFromMatch(prompt: MappedText, m: RegExpExecArray): ExtraNetworkTag {
  const type = m[1];
  const argsStart = m.index + 1 + type.length + 1;
  const items: TagArgument[] = [];
  const positional: string[] = [];
  const named: Record<string, string> = {};
  let at = argsStart;
  for (const text of m[2].split(':')) {
    const item: TagArgument = { text, span: prompt.spanToSource(at, at + text.length) };
    const parts = text.split('=');
    // Python: item.split('=', 2) has exactly two parts only when there is exactly one '='.
    if (parts.length === 2) {
      item.key = parts[0];
      item.value = parts[1];
      item.keySpan = prompt.spanToSource(at, at + parts[0].length);
      item.valueSpan = prompt.spanToSource(at + parts[0].length + 1, at + text.length);
      named[parts[0]] = parts[1];
    } else {
      positional.push(text);
    }
    items.push(item);
    at += text.length + 1;
  }
  return {
    span: prompt.spanToSource(m.index, m.index + m[0].length),
    type,
    typeSpan: prompt.spanToSource(m.index + 1, m.index + 1 + type.length),
    items,
    positional,
    named,
  };
}

/** The types A1111 (>= 1.5) knows out of the box; `lyco` is an alias of `lora`. */
export const KNOWN_NETWORK_TYPES = ['lora', 'lyco', 'hypernet'] as const;

export interface LoraActivation {
  name: string;
  te: number;
  unet: number;
  dyn: number | null;
}

export interface ActivationError {
  /** Python's exception text, e.g. `ValueError: could not convert string to float: 'abc'`. */
  error: string;
  /** The item that raised. */
  item: string;
  /** What A1111 was reading when it raised. */
  argument: 'name' | 'te' | 'unet' | 'dyn';
}

/**
 * te/unet/dyn as the built-in Lora extension's `activate` derives them. A ValueError here
 * makes A1111 drop every LoRA of the generation, so the error says which item raised.
 */
export function loraActivation(tag: Pick<ExtraNetworkTag, 'positional' | 'named'>): LoraActivation | ActivationError {
  const { positional, named } = tag;
  // `<lora:te=1>`: every item is named, and A1111's `params.positional[0]` raises.
  if (positional.length === 0) return { error: 'IndexError: list index out of range', item: '', argument: 'name' };
  const float = (text: string, argument: 'te' | 'unet'): number | ActivationError => {
    const v = pyFloat(text);
    return v === undefined
      ? { error: `ValueError: could not convert string to float: ${pyStrRepr(text)}`, item: text, argument }
      : v;
  };
  const int = (text: string): number | ActivationError => {
    const v = pyInt(text);
    return v === undefined
      ? { error: `ValueError: invalid literal for int() with base 10: ${pyStrRepr(text)}`, item: text, argument: 'dyn' }
      : v;
  };
  let te: number | ActivationError = positional.length > 1 ? float(positional[1], 'te') : 1.0;
  if (typeof te !== 'number') return te;
  if ('te' in named) te = float(named.te, 'te');
  if (typeof te !== 'number') return te;
  let unet: number | ActivationError = positional.length > 2 ? float(positional[2], 'unet') : te;
  if (typeof unet !== 'number') return unet;
  if ('unet' in named) unet = float(named.unet, 'unet');
  if (typeof unet !== 'number') return unet;
  let dyn: number | null | ActivationError = positional.length > 3 ? int(positional[3]) : null;
  if (dyn !== null && typeof dyn !== 'number') return dyn;
  if ('dyn' in named) dyn = int(named.dyn);
  if (dyn !== null && typeof dyn !== 'number') return dyn;
  return { name: positional[0], te, unet, dyn };
}

export function isActivationError(x: LoraActivation | ActivationError): x is ActivationError {
  return 'error' in x;
}
