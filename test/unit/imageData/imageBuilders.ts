import * as zlib from 'zlib';
import { encodePng } from '../../../server/src/render/pipeline/png';
import { crc32, PNG_SIGNATURE } from '../../../server/src/service/imageData/pngChunks';

/**
 * Images built byte by byte as the tools write them, for the generation-data readers:
 * PNG text chunks (tEXt/zTXt/iTXt as PIL writes them), TIFF/EXIF blocks laid out as piexif
 * dumps them (A1111's JPEG/WebP path), JPEG segments and WebP RIFF chunks.
 */
const RGB_2X2 = new Uint8Array(12).fill(128);

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A 2×2 PNG with the given text chunks (tEXt for Latin-1, iTXt otherwise, as PIL writes them). */
export function pngWithText(text: Record<string, string>): Buffer {
  return encodePng(2, 2, RGB_2X2, text);
}

/** A 2×2 PNG with extra chunks inserted after IHDR. */
export function pngWithChunks(chunks: Buffer[]): Buffer {
  const plain = pngWithText({});
  const afterIhdr = 8 + 12 + 13;
  return Buffer.concat([plain.subarray(0, afterIhdr), ...chunks, plain.subarray(afterIhdr)]);
}

export function zTXt(key: string, text: string): Buffer {
  return pngChunk('zTXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 0]), zlib.deflateSync(Buffer.from(text, 'latin1'))]));
}

export function compressedITXt(key: string, text: string): Buffer {
  return pngChunk('iTXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0, 1, 0]), Buffer.from('en\0', 'latin1'), Buffer.from([0]), zlib.deflateSync(Buffer.from(text, 'utf8'))]));
}

export { PNG_SIGNATURE };

export interface TiffEntry {
  tag: number;
  type: number;
  data: Buffer;
}

/**
 * A TIFF block with IFD0 entries and, when `exif` is given, an Exif IFD linked from IFD0's
 * 0x8769 (piexif's layout: header, IFD0, Exif IFD, then the values).
 */
export function tiff(littleEndian: boolean, ifd0: TiffEntry[], exif?: TiffEntry[]): Buffer {
  const ifd0Entries = [...ifd0];
  const ifdSize = (n: number) => 2 + n * 12 + 4;
  const ifd0Count = ifd0Entries.length + (exif ? 1 : 0);
  const exifOffset = 8 + ifdSize(ifd0Count);
  let dataOffset = exifOffset + (exif ? ifdSize(exif.length) : 0);
  const data: Buffer[] = [];
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    if (littleEndian) b.writeUInt16LE(n);
    else b.writeUInt16BE(n);
    return b;
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(n);
    else b.writeUInt32BE(n);
    return b;
  };
  const ifd = (entries: TiffEntry[], extra: Buffer[]): Buffer => {
    const parts: Buffer[] = [u16(entries.length + extra.length)];
    for (const e of entries) {
      const size = e.type === 3 ? 2 : e.type === 4 ? 4 : 1;
      parts.push(u16(e.tag), u16(e.type), u32(e.data.length / size));
      if (e.data.length <= 4) parts.push(Buffer.concat([e.data, Buffer.alloc(4 - e.data.length)]));
      else {
        parts.push(u32(dataOffset));
        data.push(e.data);
        dataOffset += e.data.length;
      }
    }
    parts.push(...extra, u32(0));
    return Buffer.concat(parts);
  };
  const exifPointer = exif ? [Buffer.concat([u16(0x8769), u16(4), u32(1), u32(exifOffset)])] : [];
  const header = Buffer.concat([Buffer.from(littleEndian ? 'II' : 'MM', 'latin1'), u16(42), u32(8)]);
  const first = ifd(ifd0Entries, exifPointer);
  const second = exif ? ifd(exif, []) : Buffer.alloc(0);
  return Buffer.concat([header, first, second, ...data]);
}

/** UserComment bytes as piexif.helper.UserComment.dump(text, encoding="unicode") writes them: UTF-16BE. */
export function unicodeUserComment(text: string, littleEndian = false): Buffer {
  const le = Buffer.from(text, 'utf16le');
  if (!littleEndian) le.swap16();
  return Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), le]);
}

/** A1111's EXIF for JPEG/WebP: piexif.dump({"Exif": {UserComment: dump(text, "unicode")}}), big-endian. */
export function a1111Exif(text: string): Buffer {
  return tiff(false, [], [{ tag: 0x9286, type: 7, data: unicodeUserComment(text) }]);
}

export function jpeg(segments: Array<{ marker: number; data: Buffer }>): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  for (const s of segments) {
    const head = Buffer.from([0xff, s.marker, 0, 0]);
    head.writeUInt16BE(s.data.length + 2, 2);
    parts.push(head, s.data);
  }
  // A scan header and some entropy-coded bytes, then EOI: the reader must stop at SOS.
  parts.push(Buffer.from([0xff, 0xda, 0x00, 0x02, 0x12, 0x34, 0xff, 0x00, 0xff, 0xd9]));
  return Buffer.concat(parts);
}

export function jpegExif(tiffBlock: Buffer): { marker: number; data: Buffer } {
  return { marker: 0xe1, data: Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiffBlock]) };
}

export function jpegXmp(packet: string): { marker: number; data: Buffer } {
  return { marker: 0xe1, data: Buffer.concat([Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'), Buffer.from(packet, 'utf8')]) };
}

export function webp(chunks: Array<{ type: string; data: Buffer }>): Buffer {
  const vp8l = { type: 'VP8L', data: Buffer.from([0x2f, 0x01, 0x40, 0x00, 0x00, 0x07]) };
  const body: Buffer[] = [Buffer.from('WEBP', 'latin1')];
  for (const c of [vp8l, ...chunks]) {
    const head = Buffer.alloc(8);
    head.write(c.type, 0, 'latin1');
    head.writeUInt32LE(c.data.length, 4);
    body.push(head, c.data, Buffer.alloc(c.data.length % 2));
  }
  const payload = Buffer.concat(body);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(payload.length, 4);
  return Buffer.concat([riff, payload]);
}

export function xmpPacket(inner: string): string {
  return `<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">${inner}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
}
