/**
 * How tag names are written, matched and shown, as a1111-sd-webui-tagcomplete does it with its
 * default settings (`tac_replaceUnderscores` and `tac_escapeParentheses` on).
 */

/**
 * The text tagcomplete inserts for a tag: underscores become spaces, and brackets are escaped so
 * A1111 reads them as text instead of emphasis: `ahri_(league_of_legends)` → `ahri \(league of legends\)`.
 */
export function tagInsertText(name: string): string {
  return name.replace(/_/g, ' ').replace(/[()[\]]/g, (c) => '\\' + c);
}

/**
 * The form names, aliases and typed text are compared in: lower case, escapes of brackets
 * dropped (`\(` → `(`), and spaces written as underscores, so `Long Hair`, `long_hair` and
 * `long hair` are one key, and `ahri \(league` is a prefix of `ahri_(league_of_legends)`.
 */
export function tagKey(text: string): string {
  const key = text.toLowerCase().replace(/\\([()[\]\\])/g, '$1').replace(/\s+/g, '_');
  return key === text ? text : key;
}

/**
 * A post count as tagcomplete shows it (Danbooru's style): compact, with one decimal at a
 * million and over and between 1,000 and 9,999 (`6.0M`, `5.4K`, `54K`, `999`).
 */
export function formatPostCount(count: number): string {
  const padded = count >= 1_000_000 || (count >= 1000 && count < 10_000);
  return (padded ? PADDED : PLAIN).format(count);
}
const PADDED = new Intl.NumberFormat('en', { notation: 'compact', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const PLAIN = new Intl.NumberFormat('en', { notation: 'compact' });
