import { ImageDataError } from './types';

/**
 * The text fields of an EXIF (TIFF) block that image tools put generation data in: the Exif
 * IFD's UserComment (0x9286, where A1111 writes its infotext through piexif) and IFD0's
 * ImageDescription (0x010E), Make/Model (0x010F/0x0110) and XPComment (0x9C9C, UTF-16LE, Windows).
 *
 * A small reader of our own rather than an npm EXIF library: we need three tags as raw bytes
 * (UserComment's 8-byte encoding prefix decides the decoding, and libraries such as exifr
 * decode it their own way), and every offset in the block is attacker-controlled, so the walk
 * is bounded here: each offset is checked against the block, each IFD is visited once (loops
 * are refused), and at most MAX_IFD_ENTRIES entries are read per IFD.
 */
export interface ExifText {
  userComment?: Uint8Array;
  imageDescription?: Uint8Array;
  xpComment?: Uint8Array;
  /** Make (0x010F) and Model (0x0110): ComfyUI's animated WebP saver writes `workflow:{…}` and `prompt:{…}` there. */
  make?: Uint8Array;
  model?: Uint8Array;
  littleEndian: boolean;
}

const MAX_IFD_ENTRIES = 1024;
const TAG_EXIF_IFD = 0x8769;
const TAG_USER_COMMENT = 0x9286;
const TAG_IMAGE_DESCRIPTION = 0x010e;
const TAG_XP_COMMENT = 0x9c9c;
const TAG_MAKE = 0x010f;
const TAG_MODEL = 0x0110;
const IFD0_TAGS = new Set([TAG_IMAGE_DESCRIPTION, TAG_XP_COMMENT, TAG_EXIF_IFD, TAG_MAKE, TAG_MODEL]);
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

/** `tiff` starts at the TIFF header (`II*\0` or `MM\0*`); `where` names the block in errors. */
export function readExifText(tiff: Uint8Array, where: string): ExifText {
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (tiff.length < 8) throw new ImageDataError(`${where}: EXIF block of ${tiff.length} bytes is too short for a TIFF header`, 'unreadable');
  const order = String.fromCharCode(tiff[0], tiff[1]);
  if (order !== 'II' && order !== 'MM') throw new ImageDataError(`${where}: EXIF block has no TIFF byte-order mark (found ${JSON.stringify(order)})`, 'unreadable');
  const le = order === 'II';
  const u16 = (at: number) => view.getUint16(at, le);
  const u32 = (at: number) => view.getUint32(at, le);
  const result: ExifText = { littleEndian: le };
  const visited = new Set<number>();

  const checkRange = (start: number, length: number, what: string) => {
    if (start < 0 || length < 0 || start + length > tiff.length) {
      throw new ImageDataError(`${where}: EXIF ${what} at offset ${start} (${length} bytes) points outside the ${tiff.length}-byte block`, 'unreadable');
    }
  };

  const walk = (offset: number, isExifIfd: boolean) => {
    if (visited.has(offset)) throw new ImageDataError(`${where}: EXIF IFD at offset ${offset} is linked twice (a loop)`, 'unreadable');
    visited.add(offset);
    checkRange(offset, 2, 'IFD');
    const count = u16(offset);
    if (count > MAX_IFD_ENTRIES) throw new ImageDataError(`${where}: EXIF IFD at offset ${offset} declares ${count} entries (more than ${MAX_IFD_ENTRIES})`, 'unreadable');
    checkRange(offset + 2, count * 12, 'IFD entries');
    for (let i = 0; i < count; i++) {
      const entry = offset + 2 + i * 12;
      const tag = u16(entry);
      const type = u16(entry + 2);
      const n = u32(entry + 4);
      const wanted = isExifIfd ? tag === TAG_USER_COMMENT : IFD0_TAGS.has(tag);
      if (!wanted) continue;
      if (tag === TAG_EXIF_IFD) {
        walk(u32(entry + 8), true);
        continue;
      }
      const size = (TYPE_SIZES[type] ?? 1) * n;
      const start = size <= 4 ? entry + 8 : u32(entry + 8);
      checkRange(start, size, `tag 0x${tag.toString(16)}`);
      const bytes = tiff.subarray(start, start + size);
      if (tag === TAG_USER_COMMENT) result.userComment = bytes;
      else if (tag === TAG_IMAGE_DESCRIPTION) result.imageDescription = bytes;
      else if (tag === TAG_MAKE) result.make = bytes;
      else if (tag === TAG_MODEL) result.model = bytes;
      else result.xpComment = bytes;
    }
  };

  const ifd0 = u32(4);
  walk(ifd0, false);
  return result;
}

const ASCII_PREFIX = 'ASCII\0\0\0';
const UNICODE_PREFIX = 'UNICODE\0';
const JIS_PREFIX = 'JIS\0\0\0\0\0';

/**
 * UserComment as A1111's `read_info_from_image` reads it: piexif's `UserComment.load` (an
 * 8-byte prefix: `ASCII\0\0\0`, `UNICODE\0` + UTF-16, `JIS\0…`), and on any other prefix
 * (the undefined one of 8 NULs included) the bytes as UTF-8. piexif writes UTF-16 big-endian
 * whatever the TIFF byte order; other tools write it in the TIFF's order (little-endian in an
 * `II` block), so the byte order is taken from a BOM, else from where the zero bytes of
 * ASCII-range characters fall, else from the TIFF header.
 */
export function decodeUserComment(bytes: Uint8Array, tiffLittleEndian: boolean): string {
  const prefix = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  const body = Buffer.from(bytes.subarray(8));
  let text: string;
  if (prefix === ASCII_PREFIX) text = body.toString('latin1');
  else if (prefix === UNICODE_PREFIX) text = decodeUtf16(body, tiffLittleEndian);
  else if (prefix === JIS_PREFIX) text = new TextDecoder('shift_jis').decode(body);
  else text = Buffer.from(bytes).toString('utf8');
  return trimNuls(text);
}

export function decodeUtf16(body: Buffer, fallbackLittleEndian: boolean): string {
  let bytes = body;
  let le = fallbackLittleEndian;
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    le = false;
    bytes = bytes.subarray(2);
  } else if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    le = true;
    bytes = bytes.subarray(2);
  } else {
    let zeroEven = 0;
    let zeroOdd = 0;
    for (let i = 0; i + 1 < bytes.length && i < 4096; i += 2) {
      if (bytes[i] === 0) zeroEven++;
      if (bytes[i + 1] === 0) zeroOdd++;
    }
    if (zeroEven > zeroOdd) le = false;
    else if (zeroOdd > zeroEven) le = true;
  }
  const even = bytes.subarray(0, bytes.length - (bytes.length % 2));
  if (le) return even.toString('utf16le');
  const swapped = Buffer.from(even);
  swapped.swap16();
  return swapped.toString('utf16le');
}

export function trimNuls(text: string): string {
  return text.replace(/^\0+|\0+$/g, '');
}
