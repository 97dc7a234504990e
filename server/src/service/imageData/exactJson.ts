/**
 * JSON.parse for ComfyUI's graphs with its seeds kept exact: ComfyUI seeds go up to 2^64 - 1,
 * and JSON.parse rounds integers past 2^53 (18446744073709551615 would read as
 * 18446744073709552000, a different image). Integers of 16 or more digits outside string
 * literals become strings of their digits before parsing; Python's NaN/Infinity become null.
 */
export function parseExactJson(text: string): unknown {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j])) j++;
      const number = text.slice(i, j);
      if (/^-?\d{16,}$/.test(number)) {
        out += text.slice(last, i) + `"${number}"`;
        last = j;
      }
      i = j - 1;
      continue;
    }
    if (text.startsWith('NaN', i) || text.startsWith('Infinity', i)) {
      const word = text.startsWith('NaN', i) ? 'NaN' : 'Infinity';
      const start = i > 0 && text[i - 1] === '-' ? i - 1 : i;
      out += text.slice(last, start) + 'null';
      last = i + word.length;
      i = last - 1;
    }
  }
  return JSON.parse(out + text.slice(last));
}
