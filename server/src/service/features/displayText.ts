/**
 * Text from outside (LoRA metadata and sidecars, file names, the prompt itself) on its way into
 * what the editor shows. Diagnostic messages are plain text: control characters (NUL), bidi
 * overrides (U+202E makes a message read backwards) and lone surrogates are taken out. Hovers are
 * Markdown: a trigger word with a blank line in it, or a sidecar description, had rendered its own
 * links and remote images there. Metadata is escaped, so it shows as the characters it is.
 */

/**
 * C0 and C1 controls (line breaks are handled apart), DEL, the bidi controls (ALM, LRM, RLM,
 * LRE..RLO, LRI..PDI) and UTF-16 halves without their other half.
 */
const UNSHOWABLE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LINE_BREAK = /\r\n|[\t\n\r\u2028\u2029]/g;

/** One line of plain text: line breaks and tabs become spaces, unshowable characters go. */
export function plainText(text: string): string {
  return text.replace(LINE_BREAK, ' ').replace(UNSHOWABLE, '');
}

/**
 * The characters that start a link, an image, HTML, an entity or a code span, and the `:` and `@`
 * of bare URLs and e-mail addresses that GFM turns into links; a backslash makes each literal.
 * (Emphasis and headings are left alone: they change nothing but looks, and escaping every `_` would
 * litter the file names.) `www.` is also a link to GFM, so its dot is escaped.
 */
const MARKDOWN_ACTIVE = /[\\`[\]()<>!&:@]|(?<=www)\./gi;

/** Text that shows in Markdown as these characters: no link, image or HTML comes of it. */
export function markdownText(text: string): string {
  return plainText(text).replace(MARKDOWN_ACTIVE, '\\$&');
}

/**
 * Paragraphs of outside text (a sidecar description): its lines kept, each escaped, at most
 * `limit` characters of it.
 */
export function markdownParagraphs(text: string, limit: number): string {
  const cut = text.length > limit ? text.slice(0, limit) + '…' : text;
  return cut
    .split(/\r\n|[\n\r\u2028\u2029]/)
    .map((line) => markdownText(line.trim()))
    .join('\n');
}

/** An inline code span: a backtick would end it and a line break could split its paragraph, so neither stays. */
export function markdownCode(text: string): string {
  return '`' + plainText(text).replace(/`/g, "'") + '`';
}
