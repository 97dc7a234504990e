/** A half-open range of UTF-16 offsets into the document text. */
export interface Span {
  start: number;
  end: number;
}

export function span(start: number, end: number): Span {
  return { start, end };
}

/**
 * Text derived from the document (comments removed, tags cut out) that remembers where each
 * of its characters came from, so results computed on the derived text report document ranges.
 * One source offset per derived character: simple, linear, and 4 bytes a character.
 */
export class MappedText {
  private constructor(
    readonly text: string,
    private readonly sources: Int32Array,
    private readonly sourceEnd: number,
  ) {}

  /** `text` as it stands in the document from `sourceStart` on. */
  static identity(text: string, sourceStart: number): MappedText {
    const sources = new Int32Array(text.length);
    for (let i = 0; i < text.length; i++) sources[i] = sourceStart + i;
    return new MappedText(text, sources, sourceStart + text.length);
  }

  /** Source offset of derived offset `offset`; the end of the text maps to the end of its source. */
  toSource(offset: number): number {
    if (offset >= this.text.length) return this.sourceEnd;
    return this.sources[Math.max(0, offset)];
  }

  /** Source span of derived span [start, end); an empty span maps to an empty span. */
  spanToSource(start: number, end: number): Span {
    const s = this.toSource(start);
    if (end <= start) return { start: s, end: s };
    return { start: s, end: this.toSource(end - 1) + 1 };
  }

  /**
   * Python's `re.sub(pattern, replacement, text)` on the derived text, keeping the map.
   * `replace` returns the replacement and the derived offset its characters map to.
   */
  replace(pattern: RegExp, replace: (match: RegExpExecArray) => { text: string; at: number }): MappedText {
    const flags = pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g';
    const re = new RegExp(pattern.source, flags);
    const matches: RegExpExecArray[] = [];
    for (let m = re.exec(this.text); m; m = re.exec(this.text)) {
      matches.push(m);
      if (m[0].length === 0) re.lastIndex++;
    }
    return this.replaceMatches(matches, replace);
  }

  /** Replaces the given non-overlapping, ordered matches. */
  replaceMatches(matches: RegExpExecArray[], replace: (match: RegExpExecArray) => { text: string; at: number }): MappedText {
    if (matches.length === 0) return this;
    const replacements = matches.map((m) => replace(m));
    let length = this.text.length;
    matches.forEach((m, k) => (length += replacements[k].text.length - m[0].length));
    const sources = new Int32Array(length);
    const parts: string[] = [];
    let last = 0;
    let o = 0;
    matches.forEach((m, k) => {
      sources.set(this.sources.subarray(last, m.index), o);
      o += m.index - last;
      parts.push(this.text.slice(last, m.index));
      const r = replacements[k];
      sources.fill(this.toSource(r.at), o, o + r.text.length);
      o += r.text.length;
      parts.push(r.text);
      last = m.index + m[0].length;
    });
    sources.set(this.sources.subarray(last), o);
    parts.push(this.text.slice(last));
    return new MappedText(parts.join(''), sources, this.sourceEnd);
  }
}
