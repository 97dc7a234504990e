import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { encodePng } from '../pipeline/png';
import { readPngInfo } from '../../service/imageData/pngChunks';
import type { RgbImage } from './gridImageTypes';

/**
 * The grid as a PNG, with an infotext in its `parameters` chunk as A1111 writes the first cell's infotext into
 * the grid it saves (so PNG Info on the grid shows the settings the grid was made from).
 */
export function gridPng(image: RgbImage, infotext?: string): Buffer {
  return encodePng(image.width, image.height, image.rgb, infotext === undefined ? {} : { parameters: infotext });
}

/**
 * The most pixels a decoded cell may have: 8192×8192, four times SDXL's largest common size at 4096² and far
 * past any render, while a PNG that declares more (a few bytes can) is refused before memory is taken for it.
 */
export const MAX_DECODED_PIXELS = 8192 * 8192;

/** Colour types read, by PNG's number: grey, RGB, palette, grey + alpha, RGBA. */
const COLOUR_TYPES: Record<number, string> = { 0: 'greyscale', 2: 'RGB', 3: 'palette', 4: 'greyscale with alpha', 6: 'RGBA' };

/**
 * A cell's image from PNG bytes (the local engine's result or a webui's): 8-bit grey, RGB, RGBA (alpha
 * dropped, as PIL's convert('RGB') drops it) or palette images. Anything else, a truncated or corrupt file,
 * or one declaring more than MAX_DECODED_PIXELS, is refused with the reason; `name` says whose image it was.
 */
export function decodePng(bytes: Uint8Array, name = 'PNG image'): RgbImage {
  let info;
  try {
    info = readPngInfo(bytes); // the signature, every length, and the CRC of every chunk but the image data
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 33 || buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${name}: PNG has no IHDR chunk first`);
  const bitDepth = buf[24];
  const colourType = buf[25];
  const { width, height } = info;
  if (width < 1 || height < 1) throw new Error(`${name}: PNG declares a ${width}×${height} image`);
  if (width * height > MAX_DECODED_PIXELS) {
    throw new Error(`${name}: PNG declares ${width}×${height} pixels, more than the ${MAX_DECODED_PIXELS / 1024 / 1024} megapixels a grid cell may have (refused)`);
  }
  if (!(colourType in COLOUR_TYPES)) throw new Error(`${name}: PNG has colour type ${colourType}, which is not one PNG defines`);
  if (bitDepth !== 8 && !(colourType === 3 && bitDepth < 8)) {
    throw new Error(`${name}: PNG is ${bitDepth}-bit ${COLOUR_TYPES[colourType]}; only 8-bit images (grey, RGB, RGBA or palette) are read`);
  }
  checkInflatedSize(buf, width, height, bitDepth, colourType, buf[28] === 1, name);
  let png: PNG;
  try {
    png = PNG.sync.read(buf);
  } catch (e) {
    throw new Error(`${name}: PNG image data cannot be decoded (${(e as Error).message})`);
  }
  const rgb = new Uint8Array(width * height * 3);
  const rgba = png.data;
  for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
    rgb[o] = rgba[i];
    rgb[o + 1] = rgba[i + 1];
    rgb[o + 2] = rgba[i + 2];
  }
  return { width, height, rgb };
}

/** Samples per pixel by colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * The image data is inflated here first with a cap of what the declared size needs (an interlaced image's seven
 * passes, each row with a filter byte, fit in twice the plain size), so a zip bomb is refused by name before
 * pngjs, which caps only non-interlaced images and then fails with an obscure message, sees it.
 */
function checkInflatedSize(buf: Buffer, width: number, height: number, bitDepth: number, colourType: number, interlaced: boolean, name: string): void {
  const rowBytes = Math.ceil((width * CHANNELS[colourType] * bitDepth) / 8) + 1;
  const limit = interlaced ? 2 * rowBytes * height + 64 : rowBytes * height;
  const parts: Buffer[] = [];
  for (let at = 8; at + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(at);
    if (buf.toString('latin1', at + 4, at + 8) === 'IDAT') parts.push(buf.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  try {
    zlib.inflateSync(Buffer.concat(parts), { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new Error(`${name}: PNG image data inflates to more than its ${width}×${height} pixels need (refused)`);
    }
    throw new Error(`${name}: PNG image data cannot be decoded (${(e as Error).message})`);
  }
}
