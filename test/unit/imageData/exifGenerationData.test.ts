import * as assert from 'assert';
import { readGenerationData } from '../../../server/src/service/imageData/generationData';
import { ImageDataError } from '../../../server/src/service/imageData/types';
import { a1111Exif, jpeg, jpegExif, jpegXmp, tiff, unicodeUserComment, webp, xmpPacket } from './imageBuilders';

const INFOTEXT = '1girl, 桜の木, (detailed:1.1)\nNegative prompt: worst quality\nSteps: 25, Sampler: Euler a, CFG scale: 6, Seed: 3141, Size: 512x512';

function refused(bytes: Uint8Array, kind: 'unreadable' | 'none', message: RegExp): void {
  assert.throws(
    () => readGenerationData(bytes),
    (e: unknown) => e instanceof ImageDataError && e.kind === kind && message.test(e.message),
  );
}

describe('generation data from JPEG and WebP EXIF and XMP', () => {
  it("reads A1111's JPEG: piexif's big-endian EXIF with a UNICODE UserComment in UTF-16BE", () => {
    const data = readGenerationData(jpeg([jpegExif(a1111Exif(INFOTEXT))]));
    assert.strictEqual(data.source, 'a1111');
    assert.strictEqual(data.container, 'jpeg');
    assert.strictEqual(data.text, INFOTEXT);
    assert.strictEqual(data.prompt, '1girl, 桜の木, (detailed:1.1)');
    assert.strictEqual(data.negativePrompt, 'worst quality');
    assert.strictEqual(data.parameters.Seed, '3141');
  });

  it('reads a UNICODE UserComment written little-endian in a little-endian (II) EXIF, as other tools do', () => {
    const block = tiff(true, [], [{ tag: 0x9286, type: 7, data: unicodeUserComment(INFOTEXT, true) }]);
    assert.strictEqual(readGenerationData(jpeg([jpegExif(block)])).text, INFOTEXT);
  });

  it('reads ASCII-prefixed and undefined-prefixed UserComments (the latter as UTF-8, as A1111 falls back)', () => {
    const ascii = 'a red fox\nSteps: 10, Seed: 5';
    const asciiBlock = tiff(false, [], [{ tag: 0x9286, type: 7, data: Buffer.concat([Buffer.from('ASCII\0\0\0', 'latin1'), Buffer.from(ascii, 'latin1')]) }]);
    assert.strictEqual(readGenerationData(jpeg([jpegExif(asciiBlock)])).text, ascii);
    const undefinedBlock = tiff(true, [], [{ tag: 0x9286, type: 7, data: Buffer.concat([Buffer.alloc(8), Buffer.from(INFOTEXT, 'utf8')]) }]);
    assert.strictEqual(readGenerationData(jpeg([jpegExif(undefinedBlock)])).text, INFOTEXT);
  });

  it("reads A1111's WebP (EXIF chunk, with or without the JPEG-style Exif header)", () => {
    const bare = readGenerationData(webp([{ type: 'EXIF', data: a1111Exif(INFOTEXT) }]));
    assert.strictEqual(bare.container, 'webp');
    assert.strictEqual(bare.text, INFOTEXT);
    const prefixed = webp([{ type: 'EXIF', data: Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), a1111Exif(INFOTEXT)]) }]);
    assert.strictEqual(readGenerationData(prefixed).text, INFOTEXT);
  });

  it('reads ImageDescription when there is no UserComment', () => {
    const text = 'portrait of an old man\nSteps: 30, Seed: 8';
    const block = tiff(true, [{ tag: 0x010e, type: 2, data: Buffer.from(text + '\0', 'utf8') }]);
    assert.strictEqual(readGenerationData(jpeg([jpegExif(block)])).text, text);
  });

  it('reads XMP exif:UserComment (rdf:Alt, entities decoded) in JPEG and dc:description as an attribute in WebP', () => {
    const li = 'a &lt;lora:x:0.5&gt; &amp; more\nSteps: 12, Seed: 2';
    const packet = xmpPacket(`<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">${li}</rdf:li></rdf:Alt></exif:UserComment>`);
    assert.strictEqual(readGenerationData(jpeg([jpegXmp(packet)])).text, 'a <lora:x:0.5> & more\nSteps: 12, Seed: 2');
    const attribute = xmpPacket('').replace('rdf:about=""', 'rdf:about="" dc:description="a lighthouse&#10;Steps: 9, Seed: 4"');
    const data = readGenerationData(webp([{ type: 'XMP ', data: Buffer.from(attribute, 'utf8') }]));
    assert.strictEqual(data.text, 'a lighthouse\nSteps: 9, Seed: 4');
    assert.strictEqual(data.parameters.Steps, '9');
  });

  it('says a JPEG or WebP without generation data has none, naming what it holds', () => {
    refused(jpeg([]), 'none', /^JPEG has no generation data \(no EXIF or XMP\)$/);
    refused(jpeg([jpegExif(tiff(false, [{ tag: 0x0112, type: 3, data: Buffer.from([0, 1]) }]))]), 'none', /^JPEG has no generation data \(EXIF without a text field\)$/);
    refused(webp([]), 'none', /^WebP has no generation data \(no EXIF or XMP\)$/);
  });

  it('refuses EXIF offsets outside the block and IFD loops, with where they point', () => {
    const outside = a1111Exif(INFOTEXT);
    // The UserComment's value offset (Exif IFD entry at 26: tag, type, count, then offset at +8).
    outside.writeUInt32BE(0x7fff0000, 26 + 2 + 8);
    refused(jpeg([jpegExif(outside)]), 'unreadable', /^JPEG: EXIF tag 0x9286 at offset 2147418112 \(\d+ bytes\) points outside the \d+-byte block$/);
    const loop = a1111Exif(INFOTEXT);
    loop.writeUInt32BE(8, 10 + 8); // IFD0's Exif pointer back to IFD0
    refused(jpeg([jpegExif(loop)]), 'unreadable', /^JPEG: EXIF IFD at offset 8 is linked twice \(a loop\)$/);
    const noHeader = Buffer.from('XX\0*\0\0\0\x08', 'latin1');
    refused(webp([{ type: 'EXIF', data: noHeader }]), 'unreadable', /^WebP: EXIF block has no TIFF byte-order mark \(found "XX"\)$/);
  });

  it('refuses JPEG segments and WebP chunks that run past the end of the file, naming the byte', () => {
    const cut = jpeg([jpegExif(a1111Exif(INFOTEXT))]).subarray(0, 40);
    refused(cut, 'unreadable', /^JPEG: segment 0xFFE1 at byte 2 declares \d+ bytes, past the end of the 40-byte file$/);
    const huge = webp([{ type: 'EXIF', data: a1111Exif(INFOTEXT) }]);
    huge.writeUInt32LE(0xffffffff, 12 + 8 + 6 + 4);
    refused(huge, 'unreadable', /^WebP: chunk "EXIF" at byte 26 declares 4294967295 bytes, past the end of the \d+-byte file$/);
  });
});
