import { Hover, MarkupKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { readGenerationData, ImageDataError } from '../imageData';
import { LibraryFileSystem } from '../library/fileSystem';
import { Span } from '../semantics/spans';
import { markdownCode, plainText } from './displayText';

/**
 * Hover on an image path in a `.prompt` (in a `#` comment or anywhere in the text): the image's
 * generation data as the `.prompt` text it would paste, read by service/imageData. Paths are absolute
 * (`/…`, `C:\…`, `\\server\…`), `file:` URIs, or relative to the document's folder; a path with spaces
 * is written in quotes. The file is read through the file system the server passes in, at most
 * MAX_IMAGE_BYTES of it; a missing, unreadable or data-less image says so in the hover.
 */

/** Images larger than this are not read for a hover (A1111's PNGs are a few MB; a 4K upscale about 30). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** The most characters of generation data a hover shows (a prompt rarely has 2,000). */
const MAX_SHOWN = 4000;

export interface ImageLink {
  /** What is written: the path or URI as in the text (without quotes). */
  written: string;
  span: Span;
}

const EXTENSION = String.raw`\.(?:png|jpe?g|webp)`;
/** A quoted path (spaces allowed), a `file:` URI, or a bare path without spaces, ending in an image extension. */
const LINK = new RegExp(String.raw`"([^"\r\n]+${EXTENSION})"|'([^'\r\n]+${EXTENSION})'|((?:file:)?[^\s"'<>|,()\[\]{}]+${EXTENSION})(?![\w.])`, 'gi');

/** The image link under `offset`, if any. */
export function imageLinkAt(text: string, offset: number): ImageLink | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const line = text.slice(lineStart, lineEnd);
  LINK.lastIndex = 0;
  for (let m = LINK.exec(line); m; m = LINK.exec(line)) {
    const quoted = m[1] ?? m[2];
    const written = quoted ?? m[3];
    const start = lineStart + m.index + (quoted ? 1 : 0);
    const end = start + written.length;
    if (offset >= start && offset <= end) return { written, span: { start, end } };
  }
  return undefined;
}

/**
 * The absolute, `/`-separated path a link names, or a reason it names none. `documentUri` is the
 * `.prompt`'s URI (a relative path needs a saved file).
 */
export function resolveImagePath(written: string, documentUri: string): { path: string } | { problem: string } {
  if (/^file:/i.test(written)) {
    const path = fileUriPath(written);
    return path ? { path } : { problem: `'${written}' is not a file URI that can be read` };
  }
  const slashed = written.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:\//.test(slashed)) return { path: normalize(slashed) };
  const documentPath = /^file:/i.test(documentUri) ? fileUriPath(documentUri) : undefined;
  if (!documentPath) return { problem: `'${written}' is relative, and this document is not a saved file to be relative to` };
  return { path: normalize(`${documentPath.slice(0, documentPath.lastIndexOf('/'))}/${slashed}`) };
}

/** The hover for an image link at `offset`, or null when there is no link there. */
export async function imageLinkHover(
  document: TextDocument,
  offset: number,
  files: Pick<LibraryFileSystem, 'stat' | 'readBytes'>,
): Promise<Hover | null> {
  const link = imageLinkAt(document.getText(), offset);
  if (!link) return null;
  const range = { start: document.positionAt(link.span.start), end: document.positionAt(link.span.end) };
  const resolved = resolveImagePath(link.written, document.uri);
  const say = (body: string): Hover => ({ contents: { kind: MarkupKind.Markdown, value: body }, range });
  if ('problem' in resolved) return say(plainText(resolved.problem));
  const name = markdownCode(resolved.path);
  let bytes: Uint8Array;
  try {
    const stat = await files.stat(resolved.path);
    if (stat.kind !== 'file') return say(`${name} is not a file.`);
    if (stat.size > MAX_IMAGE_BYTES) return say(`${name} is ${Math.round(stat.size / 1024 / 1024)} MiB: images over ${MAX_IMAGE_BYTES / 1024 / 1024} MiB are not read for a hover.`);
    bytes = await files.readBytes(resolved.path, 0, stat.size);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return say(code === 'ENOENT' || code === 'ENOTDIR' ? `${name}: no such file.` : `${name} could not be read: ${plainText((e as Error).message)}`);
  }
  let data;
  try {
    data = readGenerationData(bytes);
  } catch (e) {
    if (!(e instanceof ImageDataError)) throw e;
    return say(`${name}: ${plainText(e.message)}.`);
  }
  const source = { a1111: 'A1111', comfyui: 'ComfyUI', novelai: 'NovelAI', invokeai: 'InvokeAI' }[data.source];
  return say(`**Generation data** (${source}, ${data.container.toUpperCase()}) of ${name}\n\n${codeBlock(data.text)}`);
}

/** Text in a fenced block: its lines kept, unshowable characters out, a fence longer than any backtick run in it. */
function codeBlock(text: string): string {
  const cut = text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length - MAX_SHOWN} more characters)` : text;
  const lines = cut.split(/\r\n|[\n\r\u2028\u2029]/).map(plainText);
  const longestRun = Math.max(0, ...(cut.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${lines.join('\n')}\n${fence}`;
}

/** `file:///C:/a%20b/x.png` → `C:/a b/x.png`; `file:///home/x.png` → `/home/x.png`; `file://server/share/x.png` → `//server/share/x.png`. */
function fileUriPath(uri: string): string | undefined {
  const m = /^file:(?:\/\/([^/]*))?(\/.*)?$/i.exec(uri);
  if (!m) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(m[2] ?? '');
  } catch {
    return undefined;
  }
  if (path === '') return undefined;
  const host = m[1] ?? '';
  if (host !== '' && host.toLowerCase() !== 'localhost') return `//${host}${path}`;
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path;
}

/** Resolves `.` and `..` segments; keeps a leading `/`, `//` or drive. */
function normalize(path: string): string {
  const root = /^(\/\/|\/|[A-Za-z]:\/)/.exec(path)?.[0] ?? '';
  const parts: string[] = [];
  for (const part of path.slice(root.length).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return root + parts.join('/');
}
