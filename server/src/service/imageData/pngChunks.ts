import * as zlib from 'zlib';

/**
 * PNG chunks: the text chunks (tEXt, zTXt, iTXt) where image tools keep generation data, and
 * the CRC the writer in render/pipeline/png.ts shares. Every length is checked against the file
 * and compressed text is inflated with a cap, so a hostile PNG costs bounded memory and time.
 */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface DecodedPng {
  width: number;
  height: number;
  text: Record<string, string>;
}

/** The most a compressed text chunk may inflate to: infotexts are kilobytes; a zip bomb is refused by name. */
export const MAX_PNG_TEXT_BYTES = 16 * 1024 * 1024;

function inflateText(body: Uint8Array, type: string, at: number): Buffer {
  try {
    return zlib.inflateSync(body, { maxOutputLength: MAX_PNG_TEXT_BYTES });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new Error(`PNG chunk ${type} at byte ${at} inflates to more than ${MAX_PNG_TEXT_BYTES / 1024 / 1024} MiB of text (refused)`);
    }
    throw new Error(`PNG chunk ${type} at byte ${at} has broken compressed text (${(e as Error).message})`);
  }
}

function keywordEnd(data: Buffer, type: string, at: number): number {
  const nul = data.indexOf(0);
  if (nul < 0) throw new Error(`PNG chunk ${type} at byte ${at} has no NUL after its keyword`);
  return nul;
}

/**
 * Reads a PNG's size and text chunks (tEXt, iTXt, zTXt), checking the CRC of every chunk it
 * reads (image data is skipped unchecked: nothing here decodes pixels, and checking it would
 * cost most of the time of reading a large image's text). Throws with the reason.
 */
export function readPngInfo(png: Uint8Array): DecodedPng {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG file (bad signature)');
  let at = 8;
  let width = 0;
  let height = 0;
  const text: Record<string, string> = {};
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > buf.length) throw new Error(`PNG chunk ${type} at byte ${at} runs past the end of the file`);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (type !== 'IDAT' && crc32(buf.subarray(at + 4, at + 8 + length)) !== buf.readUInt32BE(at + 8 + length)) throw new Error(`PNG chunk ${type} at byte ${at} has a bad CRC`);
    if (type === 'IHDR') {
      if (length < 8) throw new Error(`PNG chunk IHDR at byte ${at} is ${length} bytes, too short for a size`);
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    } else if (type === 'tEXt') {
      const nul = keywordEnd(data, type, at);
      text[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    } else if (type === 'zTXt') {
      const nul = keywordEnd(data, type, at);
      text[data.toString('latin1', 0, nul)] = inflateText(data.subarray(nul + 2), type, at).toString('latin1');
    } else if (type === 'iTXt') {
      const nul = keywordEnd(data, type, at);
      const compressed = data[nul + 1] === 1;
      let p = nul + 3;
      const languageEnd = data.indexOf(0, p);
      const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
      if (translatedEnd < 0) throw new Error(`PNG chunk iTXt at byte ${at} is cut short before its text`);
      p = translatedEnd + 1;
      const body = data.subarray(p);
      text[data.toString('latin1', 0, nul)] = (compressed ? inflateText(body, type, at) : body).toString('utf8');
    } else if (type === 'IEND') break;
    at += 12 + length;
  }
  return { width, height, text };
}
