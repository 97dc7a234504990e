import { readPngInfo } from '../pipeline/png';
import { BackendError } from './backend';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The server's PNG, checked, with the infotext in a `parameters` chunk as A1111 writes it (ComfyUI
 * and Swarm write their own metadata instead, so A1111's PNG Info and image sites would read
 * nothing). A PNG that has `parameters` already is returned as it is. The chunk goes right after
 * IHDR, where PIL puts text chunks.
 */
export function withParameters(png: Uint8Array, infotext: string, from: string): { png: Uint8Array; infotext: string; width: number; height: number } {
  let info;
  try {
    info = readPngInfo(png);
  } catch (e) {
    throw new BackendError('protocol', `${from} sent an image that is not a whole PNG (${(e as Error).message})`);
  }
  // SwarmUI writes its own JSON under `parameters`: replaced, since A1111's PNG Info cannot read it.
  if (info.text.parameters !== undefined && !info.text.parameters.trimStart().startsWith('{')) return { png, infotext: info.text.parameters, width: info.width, height: info.height };
  if (info.text.parameters !== undefined) png = withoutTextChunk(png, 'parameters');
  const latin1 = [...infotext].every((ch) => ch.charCodeAt(0) <= 0xff);
  const type = latin1 ? 'tEXt' : 'iTXt';
  const data = latin1
    ? Buffer.concat([Buffer.from('parameters\0', 'latin1'), Buffer.from(infotext, 'latin1')])
    : Buffer.concat([Buffer.from('parameters', 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(infotext, 'utf8')]);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  const ihdrEnd = 8 + 12 + 13;
  const out = Buffer.concat([Buffer.from(png.subarray(0, ihdrEnd)), chunk, Buffer.from(png.subarray(ihdrEnd))]);
  return { png: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), infotext, width: info.width, height: info.height };
}

/** The PNG without its text chunks of that keyword (the file was checked by readPngInfo). */
function withoutTextChunk(png: Uint8Array, keyword: string): Uint8Array {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const kept: Buffer[] = [buf.subarray(0, 8)];
  for (let at = 8; at + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    const data = buf.subarray(at + 8, at + 8 + length);
    const nul = data.indexOf(0);
    const isKeyword = (type === 'tEXt' || type === 'iTXt' || type === 'zTXt') && data.toString('latin1', 0, nul < 0 ? data.length : nul) === keyword;
    if (!isKeyword) kept.push(buf.subarray(at, end));
    at = end;
  }
  const out = Buffer.concat(kept);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** `data:image/png;base64,...` or bare base64 (A1111's images) to bytes. */
export function decodeBase64Image(text: string): { mime: string; bytes: Uint8Array } {
  const m = /^data:([^;,]+);base64,/.exec(text);
  const bytes = Buffer.from(m ? text.slice(m[0].length) : text, 'base64');
  return { mime: m ? m[1] : sniffMime(bytes), bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export function sniffMime(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes[0] === 0x52 && bytes[1] === 0x49) return 'image/webp';
  return 'application/octet-stream';
}
