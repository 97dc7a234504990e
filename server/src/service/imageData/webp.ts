import { ImageDataError } from './types';

/**
 * A WebP's metadata chunks (RIFF): `EXIF` (a TIFF block; some writers keep the JPEG-style
 * `Exif\0\0` in front, which is skipped) and `XMP `. Chunk lengths are checked against the file.
 */
export interface WebpMetadata {
  exif?: Uint8Array;
  xmp?: string;
}

export function isWebp(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP';
}

export function readWebpMetadata(bytes: Uint8Array): WebpMetadata {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const result: WebpMetadata = {};
  let at = 12;
  while (at + 8 <= bytes.length) {
    const type = ascii(bytes, at, at + 4);
    const length = view.getUint32(at + 4, true);
    if (at + 8 + length > bytes.length) {
      throw new ImageDataError(`WebP: chunk ${JSON.stringify(type)} at byte ${at} declares ${length} bytes, past the end of the ${bytes.length}-byte file`, 'unreadable');
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'EXIF') result.exif = ascii(data, 0, 6) === 'Exif\0\0' ? data.subarray(6) : data;
    else if (type === 'XMP ') result.xmp = Buffer.from(data).toString('utf8');
    at += 8 + length + (length % 2); // chunks are padded to even sizes
  }
  return result;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.subarray(start, Math.min(end, bytes.length))).toString('latin1');
}
