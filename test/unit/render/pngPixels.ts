import * as assert from 'assert';
import * as zlib from 'zlib';

/** A PNG's image data chunk: the pixels, without the infotext (which names the model and so differs). */
export function idat(png: ArrayBuffer | Uint8Array): Buffer {
  const b = Buffer.from(png as ArrayBuffer);
  const at = b.indexOf('IDAT');
  return b.subarray(at, at + 4 + b.readUInt32BE(at - 4));
}

/** The renderer's PNG's pixels: it writes 8-bit RGB rows with filter 0 (png.ts), so inflating and dropping each row's filter byte is all. */
export function decodeRgb(png: Buffer): Uint8Array {
  const width = png.readUInt32BE(16);
  const raw = zlib.inflateSync(idat(png).subarray(4));
  const stride = width * 3 + 1;
  const out: number[] = [];
  for (let row = 0; row < raw.length; row += stride) {
    assert.strictEqual(raw[row], 0, 'filter 0');
    out.push(...raw.subarray(row + 1, row + stride));
  }
  return Uint8Array.from(out);
}
