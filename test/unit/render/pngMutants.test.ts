import * as assert from 'assert';
import * as zlib from 'zlib';
import { encodePng, readPngInfo } from '../../../server/src/render/pipeline/png';

/*
 * The bytes a rendered PNG holds, chunk by chunk: what A1111's PNG Info, image sites and other PNG
 * readers see of a render saved by the panel or `sd-prompt render`. Written from the mutants
 * `npm run mutation` found no test for (png.test.ts reads the file back with our own reader only).
 */

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
}

function chunks(png: Buffer): Chunk[] {
  const out: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    out.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + length), crc: png.readUInt32BE(at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

describe('PNG writer: the bytes of each chunk', () => {
  it('IHDR says width, height, 8-bit RGB, no interlace; IEND ends the file with its fixed CRC', () => {
    const png = encodePng(3, 1, new Uint8Array(9));
    const list = chunks(png);
    assert.deepStrictEqual(list.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
    assert.deepStrictEqual([...list[0].data], [0, 0, 0, 3, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    // CRC-32 of "IHDR" + those 13 bytes, as zlib computes it.
    assert.strictEqual(list[0].crc, zlib.crc32(Buffer.concat([Buffer.from('IHDR'), list[0].data])));
    assert.strictEqual(list[2].data.length, 0);
    assert.strictEqual(list[2].crc, 0xae426082);
    assert.strictEqual(png.length, 8 + 25 + 12 + list[1].data.length + 12);
  });

  it('every scanline starts with filter byte 0, rows top to bottom', () => {
    const rgb = Uint8Array.from({ length: 1 * 3 * 3 }, (_, i) => 10 + i);
    const idat = chunks(encodePng(1, 3, rgb)).find((c) => c.type === 'IDAT')!;
    assert.deepStrictEqual([...zlib.inflateSync(idat.data)], [0, 10, 11, 12, 0, 13, 14, 15, 0, 16, 17, 18]);
  });

  it('Latin-1 text, ÿ (U+00FF) included, is a tEXt chunk of keyword, NUL, Latin-1 bytes', () => {
    const list = chunks(encodePng(1, 1, new Uint8Array(3), { parameters: 'café ÿ' }));
    assert.deepStrictEqual(list.map((c) => c.type), ['IHDR', 'tEXt', 'IDAT', 'IEND']);
    assert.deepStrictEqual([...list[1].data], [...Buffer.from('parameters', 'latin1'), 0, 0x63, 0x61, 0x66, 0xe9, 0x20, 0xff]);
  });

  it('text beyond Latin-1 (Ā, U+0100) is an uncompressed iTXt chunk with empty language and translated keyword', () => {
    const list = chunks(encodePng(1, 1, new Uint8Array(3), { parameters: 'Ā' }));
    assert.deepStrictEqual(list.map((c) => c.type), ['IHDR', 'iTXt', 'IDAT', 'IEND']);
    assert.deepStrictEqual([...list[1].data], [...Buffer.from('parameters', 'latin1'), 0, 0, 0, 0, 0, 0xc4, 0x80]);
  });

  it('one text chunk per key, in the order given', () => {
    const png = encodePng(1, 1, new Uint8Array(3), { parameters: 'a', Software: 'sd-prompt' });
    assert.deepStrictEqual(chunks(png).map((c) => c.type), ['IHDR', 'tEXt', 'tEXt', 'IDAT', 'IEND']);
    assert.deepStrictEqual(readPngInfo(png).text, { parameters: 'a', Software: 'sd-prompt' });
  });

  it('refuses a fractional or non-positive size with the size it was given', () => {
    assert.throws(() => encodePng(1.5, 1, new Uint8Array(3)), /^Error: cannot write a 1\.5×1 PNG$/);
    assert.throws(() => encodePng(1, 2.5, new Uint8Array(3)), /^Error: cannot write a 1×2\.5 PNG$/);
    assert.throws(() => encodePng(1, 0, new Uint8Array(0)), /^Error: cannot write a 1×0 PNG$/);
    assert.throws(() => encodePng(-1, 1, new Uint8Array(0)), /^Error: cannot write a -1×1 PNG$/);
    assert.throws(() => encodePng(1, 1, new Uint8Array(4)), /^Error: expected 3 bytes of RGB, got 4$/);
  });
});
