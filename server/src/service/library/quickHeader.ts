import { LibraryFileSystem } from './fileSystem';
import { isSafetensorsError, parseHeaderLength } from './safetensors';

/**
 * What a library scan needs from each safetensors file, without parsing its header: the header
 * must fit the file, and `ss_output_name` (A1111's alias) is found by a byte search. Parsing
 * every header in full costs ~0.5 ms a file (10,000 files: seconds); cards are parsed on demand.
 */
const KEY = Buffer.from('"ss_output_name"');

export async function quickScan(fs: LibraryFileSystem, path: string, fileSize: number): Promise<{ alias?: string; error?: string }> {
  const file = fs.open ? await fs.open(path).catch(() => undefined) : undefined;
  const read = (offset: number, length: number) => (file ? file.read(offset, length) : fs.readBytes(path, offset, length));
  try {
    const prefix = fileSize >= 8 ? await read(0, 8) : new Uint8Array(0);
    const headerLength = parseHeaderLength(prefix, fileSize);
    if (isSafetensorsError(headerLength)) return { error: headerLength.error };
    const header = Buffer.from(await read(8, headerLength));
    if (header.length < headerLength) return { error: `file ended after ${8 + header.length} bytes while reading a ${headerLength}-byte header` };
    return { alias: findOutputName(header) };
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
