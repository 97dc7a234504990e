import * as assert from 'assert';
import * as zlib from 'zlib';
import { decodePng, gridPng, MAX_DECODED_PIXELS } from '../../../server/src/render/grid/gridImagePng';
import type { RgbImage } from '../../../server/src/render/grid/gridImageTypes';
import { encodePng, readPngInfo } from '../../../server/src/render/pipeline/png';
import { crc32, PNG_SIGNATURE } from '../../../server/src/service/imageData/pngChunks';

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A PNG as another tool may write it: any colour type and depth, rows filtered with `filter` (PNG's 0-4). */
function pngOf(width: number, height: number, colourType: number, bitDepth: number, samples: Uint8Array, filter = 0): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bitDepth;
  header[9] = colourType;
  const stride = samples.length / height;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = filter;
    const row = samples.subarray(y * stride, (y + 1) * stride);
    if (filter === 1) {
      // Sub: each byte minus the byte one pixel to its left.
      const bpp = Math.max(1, (bitDepth / 8) * ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType]);
      for (let i = 0; i < stride; i++) raw[y * (stride + 1) + 1 + i] = (row[i] - (i >= bpp ? row[i - bpp] : 0)) & 0xff;
    } else {
      raw.set(row, y * (stride + 1) + 1);
    }
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

function gradient(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + (i >> 5)) & 0xff;
  return { width, height, rgb };
}

describe('grid PNGs: writing the grid, reading cells', () => {
  it('gridPng writes the grid with the infotext A1111 puts in a grid (its first cell\'s) as `parameters`', () => {
    const image = gradient(30, 20);
    const infotext = 'a lighthouse\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64';
    const png = gridPng(image, infotext);
    const info = readPngInfo(png);
    assert.deepStrictEqual([info.width, info.height], [30, 20]);
    assert.strictEqual(info.text.parameters, infotext);
    assert.deepStrictEqual(readPngInfo(gridPng(image)).text, {}, 'no infotext, no text chunk');
  });

  it('decodePng reads back exactly what encodePng wrote', () => {
    const image = gradient(67, 41);
    const decoded = decodePng(encodePng(image.width, image.height, image.rgb, { parameters: 'x' }));
    assert.deepStrictEqual([decoded.width, decoded.height], [67, 41]);
    assert.ok(Buffer.from(decoded.rgb).equals(Buffer.from(image.rgb)));
  });

  it('reads 8-bit RGBA (alpha dropped, as PIL\'s convert("RGB") does), greyscale and filtered rows', () => {
    const rgba = new Uint8Array([10, 20, 30, 0, 40, 50, 60, 255, 70, 80, 90, 128, 100, 110, 120, 7]);
    assert.deepStrictEqual([...decodePng(pngOf(2, 2, 6, 8, rgba)).rgb], [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
    const grey = new Uint8Array([0, 85, 170, 255, 1, 2]);
    const decoded = decodePng(pngOf(3, 2, 0, 8, grey, 1));
    assert.deepStrictEqual([decoded.width, decoded.height], [3, 2]);
    assert.deepStrictEqual([...decoded.rgb], [0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255, 1, 1, 1, 2, 2, 2]);
  });

  it('refuses a 16-bit image, naming its depth and what is read', () => {
    const png = pngOf(2, 1, 2, 16, new Uint8Array(12));
    assert.throws(() => decodePng(png, 'cell 3'), /^Error: cell 3: PNG is 16-bit RGB; only 8-bit images \(grey, RGB, RGBA or palette\) are read$/);
  });

  it('refuses a truncated file with where it ends', () => {
    const png = encodePng(16, 16, gradient(16, 16).rgb);
    assert.throws(() => decodePng(png.subarray(0, png.length - 30), 'cell 1'), /^Error: cell 1: PNG chunk IDAT at byte 33 runs past the end of the file$/);
    assert.throws(() => decodePng(png.subarray(0, 5), 'cell 1'), /cell 1: not a PNG file \(bad signature\)/);
    assert.throws(() => decodePng(new Uint8Array(0)), /PNG image: not a PNG file/);
  });

  it('refuses a PNG declaring huge dimensions before taking memory for them', () => {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(100000, 0);
    header.writeUInt32BE(100000, 4);
    header[8] = 8;
    header[9] = 2;
    const png = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(Buffer.alloc(10))), chunk('IEND', new Uint8Array(0))]);
    assert.throws(() => decodePng(png, 'cell 2'), /^Error: cell 2: PNG declares 100000×100000 pixels, more than the 64 megapixels a grid cell may have \(refused\)$/);
    assert.strictEqual(MAX_DECODED_PIXELS, 8192 * 8192);
  });

  it('refuses a zip bomb (image data inflating past what the declared size needs), interlaced or not, without inflating it all', () => {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(4, 0);
    header.writeUInt32BE(4, 4);
    header[8] = 8;
    header[9] = 2;
    const bombData = chunk('IDAT', zlib.deflateSync(Buffer.alloc(16 * 1024 * 1024)));
    const bomb = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), bombData, chunk('IEND', new Uint8Array(0))]);
    assert.throws(() => decodePng(bomb, 'cell 4'), /^Error: cell 4: PNG image data inflates to more than its 4×4 pixels need \(refused\)$/);
    header[12] = 1; // Adam7
    const interlaced = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), bombData, chunk('IEND', new Uint8Array(0))]);
    assert.throws(() => decodePng(interlaced, 'cell 4'), /^Error: cell 4: PNG image data inflates to more than its 4×4 pixels need \(refused\)$/);
  });

  it('refuses corrupt image data with the decoder\'s reason', () => {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(4, 0);
    header.writeUInt32BE(4, 4);
    header[8] = 8;
    header[9] = 2;
    const corrupt = Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', Buffer.from('not deflate data')), chunk('IEND', new Uint8Array(0))]);
    assert.throws(() => decodePng(corrupt, 'cell 5'), /^Error: cell 5: PNG image data cannot be decoded \(.+\)$/);
  });
});
