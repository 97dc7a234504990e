/**
 * Python's `fnmatch.fnmatch` on POSIX (case-sensitive), which dynamicprompts uses to match a
 * wildcard name against collection names: `*` matches anything (`/` included), `?` one
 * character, `[seq]` / `[!seq]` a set; the whole name must match.
 */
const cache = new Map<string, RegExp>();

export function fnmatch(name: string, pattern: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${translate(pattern)})$`, 'su');
    if (cache.size > 500) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(name);
}

/** True when the pattern has glob characters (so it may name several collections). */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** `fnmatch.translate`, as a JavaScript regular expression body. */
function translate(pattern: string): string {
  const chars = [...pattern];
  let out = '';
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++];
    if (c === '*') {
      while (chars[i] === '*') i++;
      out += '.*';
    } else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (chars[j] === '!') j++;
      if (chars[j] === ']') j++;
      while (j < chars.length && chars[j] !== ']') j++;
      if (j >= chars.length) out += '\\[';
      else {
        let body = chars.slice(i, j).join('');
        i = j + 1;
        if (body === '') {
          out += '(?!)';
          continue;
        }
        if (body === '!') {
          out += '.';
          continue;
        }
        let negate = '';
        if (body[0] === '!') [negate, body] = ['^', body.slice(1)];
        else if (body[0] === '^') [negate, body] = ['\\^', body.slice(1)];
        out += `[${negate}${body.replace(/[\\\]\[]/g, '\\$&')}]`;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}
