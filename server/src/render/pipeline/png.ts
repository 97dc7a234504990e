import * as zlib from 'zlib';
import { crc32, PNG_SIGNATURE as SIGNATURE } from '../../service/imageData/pngChunks';

/**
 * A PNG writer for rendered images, with the A1111 infotext in a text chunk named
 * `parameters` (what A1111's PNG Info and image sites read). PIL, which A1111 uses, writes
 * `tEXt` when the text is Latin-1 and `iTXt` (UTF-8) otherwise; so do we.
 */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/** A text chunk as PIL writes it: tEXt for Latin-1 text, else uncompressed iTXt. */
function textChunk(key: string, text: string): Buffer {
  if (isLatin1(text)) return chunk('tEXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));
  // keyword, NUL, compression flag 0, method 0, language tag "", NUL, translated keyword "", NUL, text
  return chunk('iTXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]));
}

/** An 8-bit RGB PNG from `rgb` (width × height × 3 bytes, rows top to bottom). */
export function encodePng(width: number, height: number, rgb: Uint8Array, text: Record<string, string> = {}): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`cannot write a ${width}×${height} PNG`);
  }
  if (rgb.length !== width * height * 3) throw new Error(`expected ${width * height * 3} bytes of RGB, got ${rgb.length}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none (deflate does well enough on renders; keeps bytes deterministic)
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [SIGNATURE, chunk('IHDR', header)];
  for (const [key, value] of Object.entries(text)) parts.push(textChunk(key, value));
  parts.push(chunk('IDAT', zlib.deflateSync(raw, { level: 6 })), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** The reader moved to the service (image generation data reads it too); render's imports keep working. */
export { readPngInfo, MAX_PNG_TEXT_BYTES } from '../../service/imageData/pngChunks';
export type { DecodedPng } from '../../service/imageData/pngChunks';
