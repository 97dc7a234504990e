/**
 * CLIP's byte-level BPE tokenizer, exactly as OpenAI's `clip/simple_tokenizer.py` (and HF's slow
 * `CLIPTokenizer`, which copies it) turns a prompt into ids — the ids A1111 counts and chunks.
 *
 * Pipeline (OpenAI order): ftfy.fix_text (approximated by NFC, as the reference fixture does) →
 * `html.unescape` twice → `strip` → `\s+` → ' ' → lower-case → pre-split by
 * `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
 * (re.IGNORECASE) → UTF-8 bytes → byte-to-unicode symbols, `</w>` on the last → BPE by merge rank.
 *
 * Offsets: every id carries the UTF-16 range, in the ORIGINAL text, of the pre-token it came from.
 * Cleanup never moves text across whitespace, so the pre-split runs on a text that keeps the original
 * whitespace (the pattern never matches whitespace, hence collapsing and stripping cannot change which
 * pre-tokens exist — with the one exception of U+001C..U+001F, handled below). Where cleanup rewrites
 * text, each rewritten character maps to the whole original stretch it came from:
 *   - an HTML entity (`&amp;` → `&`) maps to the entire entity, so a pre-token containing it covers it;
 *   - an NFC composition (`e` + U+0301 → `é`) maps to the whole composed sequence;
 *   - a lower-case expansion (`İ` → `i̇`) maps both units to the one original character.
 * A pre-token's range runs from the start of its first character's stretch to the end of its last's.
 *
 * Never throws: any string (lone surrogates, NULs, megabytes without a space) gives some ids.
 */

/** The ids every CLIP vocabulary (OpenAI's and HF's) gives the two special tokens. */
export const CLIP_BOS_ID = 49406;
export const CLIP_EOS_ID = 49407;
/** `,</w>` in the CLIP vocabulary; A1111 looks for it to break chunks at commas. */
export const CLIP_COMMA_ID = 267;

const BOS_TOKEN = '<|startoftext|>';
const EOS_TOKEN = '<|endoftext|>';
const END_OF_WORD = '</w>';

export interface TokenizedText {
  ids: number[];
  /** UTF-16 [start, end) into the input text of the pre-token each id came from. */
  offsets: [number, number][];
}

/**
 * Everything both tokenizers here offer (a superset of `PromptTokenizer` in ./tokenizer, which is
 * what the chunker and the editor features need).
 */
export interface TokenizerApi {
  /** True for the heuristic stand-in used when no tokenizer files are found. */
  readonly approximate: boolean;
  readonly bosId: number;
  readonly eosId: number;
  readonly commaId: number;
  /** Ids without BOS/EOS. */
  encode(text: string): number[];
  encodeWithOffsets(text: string): TokenizedText;
  decode(ids: readonly number[]): string;
  /** The id of a vocabulary entry (`"cat</w>"`, `","` …); undefined when unknown. */
  idOf(token: string): number | undefined;
}

// ---- text cleanup ------------------------------------------------------------------------------

/**
 * Python `regex`'s `\s` (Unicode White_Space). JS `\s` differs: it lacks U+0085 and adds U+FEFF, and
 * either difference would change tokens, so the class is spelled out.
 */
const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * OpenAI's pre-split pattern. `i` mirrors re.IGNORECASE: after lower-casing it still matters for
 * characters whose case folding differs from lower-casing (`'ſ` matches `'s`, as in Python).
 */
const PRE_SPLIT_SOURCE = `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`;

/**
 * What `strip()` takes off the ends. Python's `str.isspace` is White_Space plus U+001C..U+001F; the
 * pre-split never matches White_Space anyway, so stripping changes the pre-tokens only through
 * U+001C..U+001F at the ends (whitespace beside them is skipped over to reach them).
 */
const STRIPPED_AT_ENDS = new RegExp(`[${WS}\\x1c-\\x1f]`);

/** A fast test for "no cleanup step can change this text" apart from lower-casing. */
const NEEDS_NFC_CHECK = /[^\x00-\x7f]/;

/**
 * A text whose every UTF-16 unit remembers the [start, end) stretch of the original input it came
 * from; only built when cleanup really rewrites something (the common ASCII prompt never needs it).
 */
interface MappedText {
  text: string;
  start: Int32Array;
  end: Int32Array;
}

function identityMapped(text: string): MappedText {
  const start = new Int32Array(text.length);
  const end = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    start[i] = i;
    end[i] = i + 1;
  }
  return { text, start, end };
}

/** Replaces stretches of `source` (sorted, non-overlapping); each new unit maps to its whole stretch. */
function rewrite(source: MappedText, edits: readonly { from: number; to: number; text: string }[]): MappedText {
  if (edits.length === 0) return source;
  let length = source.text.length;
  for (const edit of edits) length += edit.text.length - (edit.to - edit.from);
  const start = new Int32Array(length);
  const end = new Int32Array(length);
  const parts: string[] = [];
  let read = 0;
  let write = 0;
  const copy = (upTo: number): void => {
    if (upTo <= read) return;
    parts.push(source.text.slice(read, upTo));
    start.set(source.start.subarray(read, upTo), write);
    end.set(source.end.subarray(read, upTo), write);
    write += upTo - read;
    read = upTo;
  };
  for (const edit of edits) {
    copy(edit.from);
    // An empty stretch (nothing in the original) cannot happen: edits always consume ≥1 unit.
    const from = source.start[edit.from];
    const to = source.end[edit.to - 1];
    parts.push(edit.text);
    for (let k = 0; k < edit.text.length; k++) {
      start[write] = from;
      end[write] = to;
      write++;
    }
    read = edit.to;
  }
  copy(source.text.length);
  return { text: parts.join(''), start, end };
}

/**
 * NFC with a mapping. Composition is local to a base character and its combining marks, so each such
 * cluster is normalized on its own; where that would not reproduce NFC of the whole text (Hangul jamo
 * compose letters with letters), the whole whitespace-free run is one rewritten stretch instead.
 */
function nfcMapped(source: MappedText): MappedText {
  const text = source.text;
  if (text.normalize('NFC') === text) return source;
  const edits: { from: number; to: number; text: string }[] = [];
  const runs = new RegExp(`[^${WS}]+`, 'gu');
  for (let run = runs.exec(text); run !== null; run = runs.exec(text)) {
    const runText = run[0];
    const normalized = runText.normalize('NFC');
    if (normalized === runText) continue;
    const clusterEdits: { from: number; to: number; text: string }[] = [];
    const pieces: string[] = [];
    const clusters = /\P{M}\p{M}*|\p{M}+/gu;
    for (let cluster = clusters.exec(runText); cluster !== null; cluster = clusters.exec(runText)) {
      const composed = cluster[0].normalize('NFC');
      pieces.push(composed);
      if (composed !== cluster[0]) {
        clusterEdits.push({ from: run.index + cluster.index, to: run.index + cluster.index + cluster[0].length, text: composed });
      }
    }
    if (pieces.join('') === normalized) edits.push(...clusterEdits);
    else edits.push({ from: run.index, to: run.index + runText.length, text: normalized });
  }
  return rewrite(source, edits);
}

// Python's html.unescape, with the entity table cut down (see HTML_ENTITIES).
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/**
 * Python's `html.entities.html5`, reduced to what prompts meet: all 106 legacy names that also match
 * without `;` (these decide Python's longest-prefix rule, e.g. `&copycat` → `©cat`, so they must all
 * be here) and the common typographic ones. Rarer named entities (`&hearts;` is in, `&bigstar;` is
 * not) stay literal text — a documented difference from Python.
 */
const LEGACY_ENTITIES =
  'AElig=C6 AMP=26 Aacute=C1 Acirc=C2 Agrave=C0 Aring=C5 Atilde=C3 Auml=C4 COPY=A9 Ccedil=C7 ETH=D0 Eacute=C9 ' +
  'Ecirc=CA Egrave=C8 Euml=CB GT=3E Iacute=CD Icirc=CE Igrave=CC Iuml=CF LT=3C Ntilde=D1 Oacute=D3 Ocirc=D4 ' +
  'Ograve=D2 Oslash=D8 Otilde=D5 Ouml=D6 QUOT=22 REG=AE THORN=DE Uacute=DA Ucirc=DB Ugrave=D9 Uuml=DC Yacute=DD ' +
  'aacute=E1 acirc=E2 acute=B4 aelig=E6 agrave=E0 amp=26 aring=E5 atilde=E3 auml=E4 brvbar=A6 ccedil=E7 cedil=B8 ' +
  'cent=A2 copy=A9 curren=A4 deg=B0 divide=F7 eacute=E9 ecirc=EA egrave=E8 eth=F0 euml=EB frac12=BD frac14=BC ' +
  'frac34=BE gt=3E iacute=ED icirc=EE iexcl=A1 igrave=EC iquest=BF iuml=EF laquo=AB lt=3C macr=AF micro=B5 ' +
  'middot=B7 nbsp=A0 not=AC ntilde=F1 oacute=F3 ocirc=F4 ograve=F2 ordf=AA ordm=BA oslash=F8 otilde=F5 ouml=F6 ' +
  'para=B6 plusmn=B1 pound=A3 quot=22 raquo=BB reg=AE sect=A7 shy=AD sup1=B9 sup2=B2 sup3=B3 szlig=DF thorn=FE ' +
  'times=D7 uacute=FA ucirc=FB ugrave=F9 uml=A8 uuml=FC yacute=FD yen=A5 yuml=FF';
const SEMICOLON_ENTITIES =
  'apos=27 hellip=2026 mdash=2014 ndash=2013 lsquo=2018 rsquo=2019 ldquo=201C rdquo=201D sbquo=201A bdquo=201E ' +
  'bull=2022 trade=2122 euro=20AC hearts=2665 spades=2660 clubs=2663 diams=2666 star=2606 starf=2605 larr=2190 ' +
  'rarr=2192 uarr=2191 darr=2193 harr=2194 prime=2032 Prime=2033 ensp=2002 emsp=2003 thinsp=2009 zwj=200D ' +
  'zwnj=200C lrm=200E rlm=200F Tab=9 NewLine=A check=2713 cross=2717 infin=221E asymp=2248 ne=2260 le=2264 ' +
  'ge=2265 minus=2212 sim=223C';

const HTML_ENTITIES: Map<string, string> = (() => {
  const table = new Map<string, string>();
  for (const [list, bare] of [
    [LEGACY_ENTITIES, true],
    [SEMICOLON_ENTITIES, false],
  ] as const) {
    for (const item of list.split(' ')) {
      const [name, hex] = item.split('=');
      const value = String.fromCodePoint(parseInt(hex, 16));
      table.set(name + ';', value);
      if (bare) table.set(name, value);
    }
  }
  return table;
})();

/** Python's `html._invalid_charrefs`: what `&#128;` … `&#159;`, `&#0;` and `&#13;` become. */
const INVALID_CHARREFS = new Map<number, string>([
  [0x00, '\ufffd'], [0x0d, '\r'], [0x80, '\u20ac'], [0x81, '\x81'], [0x82, '\u201a'], [0x83, '\u0192'],
  [0x84, '\u201e'], [0x85, '\u2026'], [0x86, '\u2020'], [0x87, '\u2021'], [0x88, '\u02c6'], [0x89, '\u2030'],
  [0x8a, '\u0160'], [0x8b, '\u2039'], [0x8c, '\u0152'], [0x8d, '\x8d'], [0x8e, '\u017d'], [0x8f, '\x8f'],
  [0x90, '\x90'], [0x91, '\u2018'], [0x92, '\u2019'], [0x93, '\u201c'], [0x94, '\u201d'], [0x95, '\u2022'],
  [0x96, '\u2013'], [0x97, '\u2014'], [0x98, '\u02dc'], [0x99, '\u2122'], [0x9a, '\u0161'], [0x9b, '\u203a'],
  [0x9c, '\u0153'], [0x9d, '\x9d'], [0x9e, '\u017e'], [0x9f, '\u0178'],
]);

/**
 * Python's `html._invalid_codepoints`, removed from the text. Its 0x80..0x9F were already taken by the
 * charrefs above, and 0 too, so of its control ranges only these remain.
 */
function isInvalidCodepoint(n: number): boolean {
  return (
    (n >= 0x01 && n <= 0x08) ||
    n === 0x0b ||
    (n >= 0x0e && n <= 0x1f) ||
    n === 0x7f ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe
  );
}

/**
 * Python's `_replace_charref` for the match `&` + `body`: the replacement and how many UTF-16 units
 * of the match it replaces (a longest-prefix match keeps the rest, so `&copycat` only rewrites
 * `&copy` and `cat` keeps its own offsets); null when Python leaves the match as it is.
 */
function replaceCharref(body: string): [string, number] | null {
  if (body[0] === '#') {
    const hex = body[1] === 'x' || body[1] === 'X';
    // parseInt stops at a closing `;`; CHARREF allows only digits before it, so this never gives NaN,
    // and 400 digits give Infinity, which is past U+10FFFF like any other huge number.
    const num = parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10);
    const whole = body.length + 1;
    const special = INVALID_CHARREFS.get(num);
    if (special !== undefined) return [special, whole];
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return ['\ufffd', whole];
    if (isInvalidCodepoint(num)) return ['', whole];
    return [String.fromCodePoint(num), whole];
  }
  const whole = HTML_ENTITIES.get(body);
  if (whole !== undefined) return [whole, body.length + 1];
  // Python counts code points; every name in the table is ASCII, so a matching prefix of x code
  // points is also x UTF-16 units.
  const points = Array.from(body);
  for (let x = points.length - 1; x > 1; x--) {
    const prefix = points.slice(0, x).join('');
    const value = HTML_ENTITIES.get(prefix);
    if (value !== undefined) return [value, prefix.length + 1];
  }
  return null;
}

function unescapeMapped(source: MappedText): MappedText {
  if (!source.text.includes('&')) return source;
  const edits: { from: number; to: number; text: string }[] = [];
  CHARREF.lastIndex = 0;
  for (let m = CHARREF.exec(source.text); m !== null; m = CHARREF.exec(source.text)) {
    const replacement = replaceCharref(m[1]);
    if (replacement !== null) edits.push({ from: m.index, to: m.index + replacement[1], text: replacement[0] });
  }
  return rewrite(source, edits);
}

/** Lower-cases; only where a character changes length (`İ`) is the mapping rebuilt. */
function lowerMapped(source: MappedText): MappedText {
  const lowered = source.text.toLowerCase();
  if (lowered.length === source.text.length) return { text: lowered, start: source.start, end: source.end };
  // Whole-text lower-casing keeps Python's final-sigma rule; per-character lengths give the mapping
  // (σ and ς have the same length, so the context rule cannot shift positions).
  const start = new Int32Array(lowered.length);
  const end = new Int32Array(lowered.length);
  let write = 0;
  let read = 0;
  for (const char of source.text) {
    const width = char.toLowerCase().length;
    const from = source.start[read];
    const to = source.end[read + char.length - 1];
    for (let k = 0; k < width; k++) {
      start[write] = from;
      end[write] = to;
      write++;
    }
    read += char.length;
  }
  return { text: lowered, start, end };
}

/**
 * The cleaned, lower-cased text the pre-split runs on, plus the mapping back to the input (null when
 * it is the identity, the fast path for almost every prompt).
 */
function cleanText(input: string): { text: string; map: MappedText | null } {
  if (!input.includes('&') && (!NEEDS_NFC_CHECK.test(input) || input.normalize('NFC') === input)) {
    const lowered = input.toLowerCase();
    if (lowered.length === input.length) return { text: lowered, map: null };
  }
  const mapped = lowerMapped(unescapeMapped(unescapeMapped(nfcMapped(identityMapped(input)))));
  return { text: mapped.text, map: mapped };
}

/**
 * `strip()` removes U+001C..U+001F at the ends along with real whitespace; in the middle they are
 * ordinary punctuation. Returns the [lo, hi) stretch that survives the strip.
 */
function stripBounds(text: string): [number, number] {
  let lo = 0;
  let hi = text.length;
  while (lo < hi && STRIPPED_AT_ENDS.test(text[lo])) lo++;
  while (hi > lo && STRIPPED_AT_ENDS.test(text[hi - 1])) hi--;
  return [lo, hi];
}

/**
 * Calls `visit` for every pre-token of `input` with its range in `input`. Shared by both tokenizers so
 * they agree on words and offsets.
 */
export function forEachPreToken(input: string, visit: (token: string, start: number, end: number) => void): void {
  const source = typeof input === 'string' ? input : '';
  if (source.length === 0) return;
  const { text, map } = cleanText(source);
  const [lo, hi] = stripBounds(text);
  if (lo >= hi) return;
  const region = lo === 0 && hi === text.length ? text : text.slice(lo, hi);
  const pattern = new RegExp(PRE_SPLIT_SOURCE, 'giu');
  for (let m = pattern.exec(region); m !== null; m = pattern.exec(region)) {
    const token = m[0];
    const from = m.index + lo;
    const to = from + token.length;
    if (map === null) visit(token, from, to);
    else visit(token, map.start[from], map.end[to - 1]);
  }
}

// ---- BPE -------------------------------------------------------------------------------------

/** OpenAI's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the rest move to U+0100+. */
function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + next++);
  }
  return table;
}

/** Merges OpenAI reads: `merges[1:49152-256-2+1]` (HF's slow CLIPTokenizer slices the same way). */
const MERGE_LIMIT = 49152 - 256 - 2 + 1;

/** Words longer than this many symbols take the heap path (the simple loop is quadratic). */
const LONG_WORD = 96;
/** Pre-tokens longer than this are not cached (a pasted blob would only evict useful words). */
const MAX_CACHED_WORD = 64;
const DEFAULT_CACHE_SIZE = 65536;

export type ClipTokenizerResult = { tokenizer: ClipTokenizer } | { problem: string };

export class ClipTokenizer implements TokenizerApi {
  readonly approximate = false;
  readonly bosId: number;
  readonly eosId: number;
  readonly commaId: number;

  private readonly vocab: Map<string, number>;
  private readonly decoder: (string | undefined)[];
  /** Symbol id of each byte, and of each byte as the last symbol of a word (`x</w>`). */
  private readonly byteId = new Int32Array(256);
  private readonly byteEndId = new Int32Array(256);
  private readonly byteDecoder = new Map<string, number>();
  // Open-addressing table (left, right) → rank; result id of each rank in mergedId.
  private readonly tableLeft: Int32Array;
  private readonly tableRight: Int32Array;
  private readonly tableRank: Int32Array;
  private readonly tableMask: number;
  private readonly mergedId: Int32Array;
  /**
   * True when every merge only uses symbols created by earlier merges: then merging the lowest
   * (rank, position) pair one at a time (heap) equals OpenAI's "merge every occurrence of the best
   * pair" loop, because a merge can only create pairs of higher rank. Real CLIP files are.
   */
  private readonly consistent: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly cacheSize: number;
  private symbols = new Int32Array(256);

  private constructor(vocab: Map<string, number>, merges: [string, string][], cacheSize: number) {
    this.vocab = vocab;
    this.cacheSize = cacheSize;
    this.decoder = [];
    for (const [token, id] of vocab) this.decoder[id] = token;
    const byteChars = bytesToUnicode();
    for (let b = 0; b < 256; b++) {
      this.byteId[b] = vocab.get(byteChars[b]) as number;
      this.byteEndId[b] = vocab.get(byteChars[b] + END_OF_WORD) as number;
      this.byteDecoder.set(byteChars[b], b);
    }
    this.bosId = vocab.get(BOS_TOKEN) ?? CLIP_BOS_ID;
    this.eosId = vocab.get(EOS_TOKEN) ?? CLIP_EOS_ID;
    this.commaId = vocab.get(',' + END_OF_WORD) ?? CLIP_COMMA_ID;

    let capacity = 1024;
    while (capacity < merges.length * 2) capacity *= 2;
    this.tableLeft = new Int32Array(capacity).fill(-1);
    this.tableRight = new Int32Array(capacity);
    this.tableRank = new Int32Array(capacity);
    this.tableMask = capacity - 1;
    this.mergedId = new Int32Array(merges.length).fill(-1);
    // Rank at which each symbol is (last) created; base symbols are -1.
    const createdAt = new Map<number, number>();
    for (let rank = 0; rank < merges.length; rank++) {
      const [a, b] = merges[rank];
      const left = vocab.get(a);
      const right = vocab.get(b);
      const merged = vocab.get(a + b);
      // A merge naming or producing a string outside the vocabulary can never fire in OpenAI's code
      // without a KeyError; skipping it keeps us from throwing.
      if (left === undefined || right === undefined || merged === undefined) continue;
      this.mergedId[rank] = merged;
      // Python builds the rank dict with dict(zip(...)): a repeated pair keeps its LAST rank.
      this.setRank(left, right, rank);
      createdAt.set(merged, rank);
    }
    // A symbol created (again) later than a merge that uses it breaks the heap equivalence.
    let consistent = true;
    for (let rank = 0; rank < merges.length && consistent; rank++) {
      const left = vocab.get(merges[rank][0]);
      const right = vocab.get(merges[rank][1]);
      if (left === undefined || right === undefined || this.mergedId[rank] < 0) continue;
      if ((createdAt.get(left) ?? -1) >= rank || (createdAt.get(right) ?? -1) >= rank) consistent = false;
    }
    this.consistent = consistent;
  }

  /**
   * Builds a tokenizer from the text of vocab.json and merges.txt; a problem (never an exception) for
   * files that cannot be a CLIP tokenizer.
   */
  static fromText(vocabJson: string, mergesText: string, options: { cacheSize?: number } = {}): ClipTokenizerResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof vocabJson === 'string' ? vocabJson.replace(/^\uFEFF/, '') : '');
    } catch (error) {
      return { problem: `vocab.json is not valid JSON (${error instanceof Error ? error.message : String(error)})` };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { problem: 'vocab.json is not a JSON object of token → id' };
    }
    const vocab = new Map<string, number>();
    for (const [token, id] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        return { problem: `vocab.json maps ${JSON.stringify(token)} to ${JSON.stringify(id)}, not a token id` };
      }
      vocab.set(token, id);
    }
    if (vocab.size === 0) return { problem: 'vocab.json is empty' };
    const byteChars = bytesToUnicode();
    for (const char of byteChars) {
      for (const symbol of [char, char + END_OF_WORD]) {
        if (!vocab.has(symbol)) return { problem: `vocab.json lacks the byte token ${JSON.stringify(symbol)}; it is not a CLIP vocabulary` };
      }
    }
    const lines = (typeof mergesText === 'string' ? mergesText : '').split('\n');
    const merges: [string, string][] = [];
    for (const line of lines.slice(1, MERGE_LIMIT)) {
      // Python's str.split(): any whitespace, so a CRLF file reads the same.
      const parts = line.trim().split(/\s+/);
      if (parts.length === 2) merges.push([parts[0], parts[1]]);
    }
    if (merges.length === 0) return { problem: 'merges.txt has no merges (expected "#version: 0.2" and then one "a b" pair a line)' };
    return { tokenizer: new ClipTokenizer(vocab, merges, Math.max(0, options.cacheSize ?? DEFAULT_CACHE_SIZE)) };
  }

  idOf(token: string): number | undefined {
    return this.vocab.get(token);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    forEachPreToken(text, (token) => {
      const word = this.bpe(token);
      for (let i = 0; i < word.length; i++) ids.push(word[i]);
    });
    return ids;
  }

  encodeWithOffsets(text: string): TokenizedText {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    forEachPreToken(text, (token, start, end) => {
      const word = this.bpe(token);
      for (let i = 0; i < word.length; i++) {
        ids.push(word[i]);
        offsets.push([start, end]);
      }
    });
    return { ids, offsets };
  }

  /** OpenAI's decode: tokens joined, bytes decoded (invalid UTF-8 → U+FFFD), `</w>` → ' '. Unknown ids are skipped. */
  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids ?? []) {
      const token = typeof id === 'number' ? this.decoder[id] : undefined;
      if (token === undefined) continue;
      for (const char of token) {
        const b = this.byteDecoder.get(char);
        if (b !== undefined) bytes.push(b);
        else for (const u of new TextEncoder().encode(char)) bytes.push(u);
      }
    }
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(Uint8Array.from(bytes)).split(END_OF_WORD).join(' ');
  }

  /** Number of distinct words whose BPE is cached (for tests and the benchmark). */
  get cachedWords(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }

  // ---- internals --------------------------------------------------------------------------------

  private hash(left: number, right: number): number {
    return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca6b)) & this.tableMask;
  }

  private setRank(left: number, right: number, rank: number): void {
    let slot = this.hash(left, right);
    while (this.tableLeft[slot] !== -1 && (this.tableLeft[slot] !== left || this.tableRight[slot] !== right)) {
      slot = (slot + 1) & this.tableMask;
    }
    this.tableLeft[slot] = left;
    this.tableRight[slot] = right;
    this.tableRank[slot] = rank;
  }

  /** Rank of the pair, or 2^31-1 when it is not a merge. */
  private rank(left: number, right: number): number {
    let slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca6b)) & this.tableMask;
    for (;;) {
      const l = this.tableLeft[slot];
      if (l === -1) return 0x7fffffff;
      if (l === left && this.tableRight[slot] === right) return this.tableRank[slot];
      slot = (slot + 1) & this.tableMask;
    }
  }

  /** The ids of one pre-token, cached (FIFO-bounded: the oldest word goes first). */
  private bpe(token: string): number[] {
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    let word: number[];
    if (token === BOS_TOKEN) word = [this.bosId];
    else if (token === EOS_TOKEN) word = [this.eosId];
    else word = this.bpeUncached(token);
    if (token.length <= MAX_CACHED_WORD && this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(token, word);
    }
    return word;
  }

  /** UTF-8 bytes of the token as symbol ids, the last one with `</w>`. */
  private toSymbols(token: string): number {
    if (this.symbols.length < token.length * 3 + 4) this.symbols = new Int32Array(token.length * 3 + 4);
    const out = this.symbols;
    let n = 0;
    let last = -1;
    const push = (b: number): void => {
      out[n++] = this.byteId[b];
      last = b;
    };
    for (let i = 0; i < token.length; i++) {
      let c = token.charCodeAt(i);
      if (c < 0x80) {
        push(c);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < token.length) {
        const d = token.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      // A lone surrogate has no UTF-8 form; encode it as U+FFFD, as TextEncoder would.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x800) {
        push(0xc0 | (c >> 6));
        push(0x80 | (c & 0x3f));
      } else if (c < 0x10000) {
        push(0xe0 | (c >> 12));
        push(0x80 | ((c >> 6) & 0x3f));
        push(0x80 | (c & 0x3f));
      } else {
        push(0xf0 | (c >> 18));
        push(0x80 | ((c >> 12) & 0x3f));
        push(0x80 | ((c >> 6) & 0x3f));
        push(0x80 | (c & 0x3f));
      }
    }
    if (n > 0) out[n - 1] = this.byteEndId[last];
    return n;
  }

  private bpeUncached(token: string): number[] {
    let n = this.toSymbols(token);
    const word = this.symbols;
    if (n > LONG_WORD && this.consistent) return this.bpeHeap(word, n);
    // OpenAI's loop on ids: find the best-ranked pair, merge all its occurrences left to right.
    while (n > 1) {
      let best = 0x7fffffff;
      let first = -1;
      let second = -1;
      for (let i = 0; i < n - 1; i++) {
        const r = this.rank(word[i], word[i + 1]);
        if (r < best) {
          best = r;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best === 0x7fffffff) break;
      const merged = this.mergedId[best];
      let w = 0;
      for (let i = 0; i < n; ) {
        if (i < n - 1 && word[i] === first && word[i + 1] === second) {
          word[w++] = merged;
          i += 2;
        } else {
          word[w++] = word[i++];
        }
      }
      n = w;
    }
    return Array.from(word.subarray(0, n));
  }

  /** The same merges in O(n log n) for long words: a heap of (rank, position) over a linked list. */
  private bpeHeap(initial: Int32Array, count: number): number[] {
    const sym = Int32Array.from(initial.subarray(0, count));
    const next = new Int32Array(count);
    const prev = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      next[i] = i + 1 < count ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap entries: rank, position, and the right symbol's identity at push time (to spot stale entries).
    const heapRank: number[] = [];
    const heapPos: number[] = [];
    const heapLeft: number[] = [];
    const heapRight: number[] = [];
    const less = (a: number, b: number): boolean =>
      heapRank[a] < heapRank[b] || (heapRank[a] === heapRank[b] && heapPos[a] < heapPos[b]);
    const swap = (a: number, b: number): void => {
      [heapRank[a], heapRank[b]] = [heapRank[b], heapRank[a]];
      [heapPos[a], heapPos[b]] = [heapPos[b], heapPos[a]];
      [heapLeft[a], heapLeft[b]] = [heapLeft[b], heapLeft[a]];
      [heapRight[a], heapRight[b]] = [heapRight[b], heapRight[a]];
    };
    const push = (pos: number): void => {
      const right = next[pos];
      if (right < 0) return;
      const r = this.rank(sym[pos], sym[right]);
      if (r === 0x7fffffff) return;
      heapRank.push(r);
      heapPos.push(pos);
      heapLeft.push(sym[pos]);
      heapRight.push(sym[right]);
      let i = heapRank.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!less(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    };
    const pop = (): void => {
      const last = heapRank.length - 1;
      swap(0, last);
      heapRank.pop();
      heapPos.pop();
      heapLeft.pop();
      heapRight.pop();
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heapRank.length && less(l, m)) m = l;
        if (r < heapRank.length && less(r, m)) m = r;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
    };
    const alive = new Uint8Array(count).fill(1);
    for (let i = 0; i < count - 1; i++) push(i);
    while (heapRank.length > 0) {
      const rank = heapRank[0];
      const pos = heapPos[0];
      const left = heapLeft[0];
      const right = heapRight[0];
      pop();
      const after = next[pos];
      // Stale: the left symbol was merged away or changed, or its neighbour is no longer the pair.
      if (!alive[pos] || after < 0 || sym[pos] !== left || sym[after] !== right) continue;
      sym[pos] = this.mergedId[rank];
      alive[after] = 0;
      next[pos] = next[after];
      if (next[after] >= 0) prev[next[after]] = pos;
      if (prev[pos] >= 0) push(prev[pos]);
      push(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return out;
  }
}

// ---- approximate tokenizer ---------------------------------------------------------------

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * A stand-in with the same API when no tokenizer files exist. It pre-splits exactly as CLIP does
 * (same cleanup, same offsets), then estimates BPE pieces per pre-token:
 *   - special tokens, single digits, one punctuation character: 1;
 *   - an ASCII punctuation run: 1 per 2 characters (CLIP has most doubled brackets and `),` pairs);
 *   - an ASCII word: 1 up to 7 letters, else 1 + 1 per further 4 letters started;
 *   - other letters (CJK, kana, accented words): 1 per 2 UTF-8 bytes; other symbols (full-width
 *     punctuation, emoji): 1 per UTF-8 byte, since CLIP has few merges for them.
 * Calibrated on the 55 real prompts (+ negatives) of the fixtures: total within 1%, each prompt of
 * 10+ tokens within 20% (see the unit test).
 * Ids are -1 except the exactly known ones (a lone `,` is always `,</w>` = 267, and the two specials),
 * so the chunker can still break at commas.
 */
export class ApproximateTokenizer implements TokenizerApi {
  readonly approximate = true;
  readonly bosId = CLIP_BOS_ID;
  readonly eosId = CLIP_EOS_ID;
  readonly commaId = CLIP_COMMA_ID;

  encode(text: string): number[] {
    return this.encodeWithOffsets(text).ids;
  }

  encodeWithOffsets(text: string): TokenizedText {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    forEachPreToken(text, (token, start, end) => {
      const [count, id] = ApproximateTokenizer.estimate(token);
      for (let i = 0; i < count; i++) {
        ids.push(id);
        offsets.push([start, end]);
      }
    });
    return { ids, offsets };
  }

  /** Only the known ids decode; estimated pieces have no text. */
  decode(ids: readonly number[]): string {
    const parts: string[] = [];
    for (const id of ids ?? []) {
      if (id === CLIP_BOS_ID) parts.push(BOS_TOKEN);
      else if (id === CLIP_EOS_ID) parts.push(EOS_TOKEN);
      else if (id === CLIP_COMMA_ID) parts.push(', ');
    }
    return parts.join('');
  }

  idOf(token: string): number | undefined {
    if (token === BOS_TOKEN) return CLIP_BOS_ID;
    if (token === EOS_TOKEN) return CLIP_EOS_ID;
    if (token === ',' + END_OF_WORD) return CLIP_COMMA_ID;
    return undefined;
  }

  /** [number of tokens, id to give each]. */
  static estimate(token: string): [number, number] {
    if (token === BOS_TOKEN) return [1, CLIP_BOS_ID];
    if (token === EOS_TOKEN) return [1, CLIP_EOS_ID];
    if (token === ',') return [1, CLIP_COMMA_ID];
    if (/^[a-z]+$/.test(token)) {
      return [token.length <= 7 ? 1 : 1 + Math.ceil((token.length - 7) / 4), -1];
    }
    // A digit is always a pre-token of its own (`\p{N}` matches one character), so this covers digits too.
    if (token.length === 1) return [1, -1];
    if (/^[\x21-\x7e]+$/.test(token)) return [Math.ceil(token.length / 2), -1];
    const bytes = utf8Length(token);
    return [/\p{L}/u.test(token) ? Math.max(1, Math.round(bytes / 2)) : bytes, -1];
  }
}
