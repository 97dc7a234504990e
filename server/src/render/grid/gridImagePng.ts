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
