import { ImageDataError } from './types';

/**
 * The metadata segments of a JPEG: APP1 `Exif\0\0` (a TIFF block), APP1 XMP
 * (`http://ns.adobe.com/xap/1.0/\0`) and COM comments. The walk stops at the first scan (SOS):
 * metadata comes before the image data, so a large JPEG costs no more than a small one.
 */
export interface JpegMetadata {
  exif?: Uint8Array;
  xmp?: string;
  comments: string[];
}

const XMP_HEADER = 'http://ns.adobe.com/xap/1.0/\0';

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function readJpegMetadata(bytes: Uint8Array): JpegMetadata {
  const result: JpegMetadata = { comments: [] };
  let at = 2;
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) throw new ImageDataError(`JPEG: expected a segment marker at byte ${at}, found 0x${bytes[at].toString(16)}`, 'unreadable');
    const marker = bytes[at + 1];
    if (marker === undefined) break;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, start of scan
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (at + 4 > bytes.length) throw new ImageDataError(`JPEG: segment 0xFF${hex(marker)} at byte ${at} is cut short`, 'unreadable');
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2 || at + 2 + length > bytes.length) {
      throw new ImageDataError(`JPEG: segment 0xFF${hex(marker)} at byte ${at} declares ${length} bytes, past the end of the ${bytes.length}-byte file`, 'unreadable');
    }
    const data = bytes.subarray(at + 4, at + 2 + length);
    if (marker === 0xe1) {
      const head = Buffer.from(data.subarray(0, XMP_HEADER.length)).toString('latin1');
      if (head.startsWith('Exif\0')) result.exif ??= data.subarray(6);
      else if (head === XMP_HEADER) result.xmp ??= Buffer.from(data.subarray(XMP_HEADER.length)).toString('utf8');
    } else if (marker === 0xfe) {
      result.comments.push(Buffer.from(data).toString('utf8'));
    }
    at += 2 + length;
  }
  return result;
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
