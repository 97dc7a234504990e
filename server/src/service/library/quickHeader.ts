import { LibraryFileSystem } from './fileSystem';
import { LoraSummary, summarizeLora } from './loraSummary';
import { isSafetensorsError, parseHeaderLength } from './safetensors';

/**
 * What a library scan needs from each safetensors file, without parsing its header: the header
 * must fit the file, and `ss_output_name` (A1111's alias) is found by a byte search. `scanLora`
 * also parses the header it read, for the picker's few fields; full cards are read on demand.
 */
const KEY = Buffer.from('"ss_output_name"');

export async function quickScan(fs: LibraryFileSystem, path: string, fileSize: number): Promise<{ alias?: string; error?: string }> {
  const read = await readHeaderBytes(fs, path, fileSize);
  return 'error' in read ? read : { alias: findOutputName(read.header) };
}

/**
 * The scan's look at a LoRA the language server lists: `quickScan`'s alias and error, plus what
 * the Insert LoRA picker shows (loraSummary.ts), from the same header bytes and the sidecars the
 * folder listing (`siblings`) names.
 */
export async function scanLora(
  fs: LibraryFileSystem,
  path: string,
  fileSize: number,
  siblings?: ReadonlySet<string>,
): Promise<{ alias?: string; error?: string; summary?: LoraSummary }> {
  const read = await readHeaderBytes(fs, path, fileSize);
  if ('error' in read) return read;
  const alias = findOutputName(read.header);
  const summary = await summarizeLora(fs, path, read.header, fileSize, siblings);
  return summary ? { alias, summary } : { alias };
}

/** The header's bytes (after the 8-byte length), or why they cannot be read. */
async function readHeaderBytes(fs: LibraryFileSystem, path: string, fileSize: number): Promise<{ header: Buffer } | { error: string }> {
  const file = fs.open ? await fs.open(path).catch(() => undefined) : undefined;
  const read = (offset: number, length: number) => (file ? file.read(offset, length) : fs.readBytes(path, offset, length));
  try {
    const prefix = fileSize >= 8 ? await read(0, 8) : new Uint8Array(0);
    const headerLength = parseHeaderLength(prefix, fileSize);
    if (isSafetensorsError(headerLength)) return { error: headerLength.error };
    const header = Buffer.from(await read(8, headerLength));
    if (header.length < headerLength) return { error: `file ended after ${8 + header.length} bytes while reading a ${headerLength}-byte header` };
    return { header };
  } catch (e) {
    return { error: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/** The string value of the `"ss_output_name"` key, when the header has one. */
export function findOutputName(header: Buffer): string | undefined {
  for (let at = header.indexOf(KEY); at !== -1; at = header.indexOf(KEY, at + 1)) {
    // Inside another JSON string (ss_tag_frequency holds JSON text) the quote is escaped.
    if (at > 0 && header[at - 1] === 0x5c) continue;
    let i = at + KEY.length;
    while (i < header.length && (header[i] === 0x20 || header[i] === 0x0a || header[i] === 0x0d || header[i] === 0x09)) i++;
    if (header[i] !== 0x3a) continue; // ':'
    i++;
    while (i < header.length && (header[i] === 0x20 || header[i] === 0x0a || header[i] === 0x0d || header[i] === 0x09)) i++;
    if (header[i] !== 0x22) return undefined; // not a string value
    let j = i + 1;
    while (j < header.length && header[j] !== 0x22) j += header[j] === 0x5c ? 2 : 1;
    try {
      const value = JSON.parse(header.subarray(i, j + 1).toString('utf8'));
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
