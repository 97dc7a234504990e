import * as assert from 'assert';
import * as zlib from 'zlib';
import { createInfotext } from '../../../server/src/render/pipeline/infotext';
import { encodePng, readPngInfo } from '../../../server/src/render/pipeline/png';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

describe('PNG with infotext', () => {
  const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);

  it('writes a valid 2×2 RGB PNG whose pixels read back', () => {
    const png = encodePng(2, 2, rgb, { parameters: 'a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7' });
    assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const info = readPngInfo(png);
    assert.deepStrictEqual(info, { width: 2, height: 2, text: { parameters: 'a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7' } });
    // The IDAT holds the scanlines with filter bytes.
    const idat = png.indexOf('IDAT');
    const length = png.readUInt32BE(idat - 4);
    const raw = zlib.inflateSync(png.subarray(idat + 4, idat + 4 + length));
    assert.deepStrictEqual([...raw], [0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  });

  it('non-Latin-1 text goes into iTXt as UTF-8, as PIL writes it', () => {
    const png = encodePng(2, 2, rgb, { parameters: '桜, 1girl' });
    assert.ok(png.includes(Buffer.from('iTXt')));
    assert.strictEqual(readPngInfo(png).text.parameters, '桜, 1girl');
  });

  it('refuses bad input with the reason', () => {
    assert.throws(() => encodePng(0, 2, new Uint8Array(0)), /cannot write a 0×2 PNG/);
    assert.throws(() => encodePng(2, 2, new Uint8Array(3)), /expected 12 bytes of RGB, got 3/);
    const png = encodePng(2, 2, rgb);
    png[20] ^= 1;
    assert.throws(() => readPngInfo(png), /IHDR at byte 8 has a bad CRC/);
    assert.throws(() => readPngInfo(new Uint8Array([1, 2, 3])), /not a PNG file/);
  });

  it('the infotext round-trips through the .prompt parser', () => {
    const text = createInfotext({
      prompt: 'masterpiece, (best quality:1.2), <lora:add_detail:0.8>',
      negativePrompt: 'lowres, bad hands',
      parameters: [
        ['Steps', 20],
        ['Sampler', 'DPM++ 2M'],
        ['Schedule type', 'Karras'],
        ['CFG scale', 7],
        ['Seed', 1234],
        ['Size', '512x512'],
        ['Model', 'tiny-sd15'],
        ['Lora hashes', 'add_detail: 0123abcd4567'],
        ['Denoising strength', undefined],
      ],
    });
    assert.strictEqual(
      text,
      'masterpiece, (best quality:1.2), <lora:add_detail:0.8>\nNegative prompt: lowres, bad hands\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x512, Model: tiny-sd15, Lora hashes: "add_detail: 0123abcd4567"',
    );
    const doc = parsePromptDocument(text);
    assert.strictEqual(doc.positive.prompt.text, 'masterpiece, (best quality:1.2), ');
    assert.strictEqual(doc.negative!.prompt.text, 'lowres, bad hands');
    assert.deepStrictEqual(
      doc.sections.parameters!.entries.map((e) => [e.key, e.value]),
      [
        ['Steps', '20'],
        ['Sampler', 'DPM++ 2M'],
        ['Schedule type', 'Karras'],
        ['CFG scale', '7'],
        ['Seed', '1234'],
        ['Size', '512x512'],
        ['Model', 'tiny-sd15'],
        ['Lora hashes', '"add_detail: 0123abcd4567"'],
      ],
    );
  });
});
