import * as assert from 'assert';
import * as zlib from 'zlib';
import { readGenerationData } from '../../../server/src/service/imageData/generationData';
import { ImageDataError } from '../../../server/src/service/imageData/types';
import { compressedITXt, pngChunk, pngWithChunks, pngWithText, zTXt } from './imageBuilders';

const A1111 = 'masterpiece, (best quality:1.2), <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres, bad hands\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, Model: v1-5-pruned-emaonly, Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1';

function refused(bytes: Uint8Array, kind: 'unreadable' | 'none', message: RegExp): void {
  assert.throws(
    () => readGenerationData(bytes),
    (e: unknown) => e instanceof ImageDataError && e.kind === kind && message.test(e.message),
  );
}

describe('generation data from PNG text chunks', () => {
  it("reads A1111's parameters tEXt into prompt, negative prompt and parameters, keeping the text as written", () => {
    const data = readGenerationData(pngWithText({ parameters: A1111 }));
    assert.strictEqual(data.source, 'a1111');
    assert.strictEqual(data.container, 'png');
    assert.strictEqual(data.text, A1111);
    assert.strictEqual(data.prompt, 'masterpiece, (best quality:1.2), <lora:add_detail:0.8>, 1girl');
    assert.strictEqual(data.negativePrompt, 'lowres, bad hands');
    assert.deepStrictEqual(data.parameters, {
      Steps: '20',
      Sampler: 'DPM++ 2M',
      'Schedule type': 'Karras',
      'CFG scale': '7',
      Seed: '1234',
      Size: '512x768',
      Model: 'v1-5-pruned-emaonly',
      'Lora hashes': 'add_detail: 7c6bad76eb54',
      Version: 'v1.10.1',
    });
  });

  it('reads parameters from an uncompressed iTXt (non-Latin-1 text, as PIL writes it)', () => {
    const text = '桜, 1girl, 夜空\nSteps: 28, Sampler: Euler a, CFG scale: 5, Seed: 7, Size: 832x1216';
    const data = readGenerationData(pngWithText({ parameters: text }));
    assert.strictEqual(data.text, text);
    assert.strictEqual(data.prompt, '桜, 1girl, 夜空');
  });

  it('reads UTF-8 bytes that a tool wrote into tEXt as the characters meant, and Latin-1 text as Latin-1', () => {
    const chunk = (bytes: Buffer) => pngChunk('tEXt', Buffer.concat([Buffer.from('parameters\0', 'latin1'), bytes]));
    assert.strictEqual(readGenerationData(pngWithChunks([chunk(Buffer.from('café, 桜\nSteps: 20', 'utf8'))])).prompt, 'café, 桜');
    assert.strictEqual(readGenerationData(pngWithChunks([chunk(Buffer.from('café au lait\nSteps: 20', 'latin1'))])).prompt, 'café au lait');
  });

  it('reads parameters from zTXt and from compressed iTXt', () => {
    assert.strictEqual(readGenerationData(pngWithChunks([zTXt('parameters', A1111)])).text, A1111);
    const utf8 = 'フリーレン, <lora:frieren:0.7>\nSteps: 20, Seed: 1';
    assert.strictEqual(readGenerationData(pngWithChunks([compressedITXt('parameters', utf8)])).text, utf8);
  });

  it("reads NovelAI's Description and Comment JSON", () => {
    const comment = JSON.stringify({ prompt: '1girl, {{masterpiece}}', uc: 'lowres', steps: 28, scale: 5.5, seed: 42, sampler: 'k_euler_ancestral', width: 832, height: 1216, noise_schedule: 'native' });
    const data = readGenerationData(pngWithText({ Title: 'NovelAI generated image', Description: '1girl, {{masterpiece}}', Software: 'NovelAI', Comment: comment }));
    assert.strictEqual(data.source, 'novelai');
    assert.strictEqual(
      data.text,
      [
        '# NovelAI weighs {x} by 1.05 and [x] by 1/1.05; A1111 reads { } as text and [x] as 1/1.1',
        '# NovelAI settings: noise_schedule native',
        '1girl, {{masterpiece}}',
        'Negative prompt: lowres',
        'Steps: 28, Sampler: Euler a, CFG scale: 5.5, Seed: 42, Size: 832x1216',
      ].join('\n'),
    );
  });

  it("reads InvokeAI's invokeai_metadata with its LoRAs, Karras scheduler and clip skip", () => {
    const meta = {
      positive_prompt: 'a castle on a hill',
      negative_prompt: 'blurry',
      width: 1024,
      height: 768,
      seed: 99,
      steps: 30,
      cfg_scale: 6.5,
      scheduler: 'dpmpp_2m_k',
      clip_skip: 1,
      model: { name: 'juggernautXL_v9', base: 'sdxl' },
      loras: [{ model: { name: 'detail-tweaker' }, weight: 0.6 }],
    };
    const data = readGenerationData(pngWithText({ invokeai_metadata: JSON.stringify(meta) }));
    assert.strictEqual(data.source, 'invokeai');
    assert.strictEqual(data.text, 'a castle on a hill <lora:detail-tweaker:0.6>\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 99, Size: 1024x768, Model: juggernautXL_v9, Clip skip: 2');
  });

  it('says an image has no generation data, naming the text chunks it does have', () => {
    refused(pngWithText({ Software: 'GIMP 2.10' }), 'none', /^PNG has no generation data \(its text chunks: Software\)$/);
    refused(pngWithText({}), 'none', /^PNG has no generation data \(no text chunks\)$/);
  });

  it('refuses a zip bomb in zTXt by name, with bounded memory', () => {
    const bomb = zlib.deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 100_000);
    const chunk = pngChunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), bomb]));
    const before = process.memoryUsage().arrayBuffers;
    refused(pngWithChunks([chunk]), 'unreadable', /^PNG chunk zTXt at byte 33 inflates to more than 16 MiB of text \(refused\)$/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 40 * 1024 * 1024);
  });

  it('refuses a chunk that declares 4 GB, a truncated file, a bad CRC and broken compressed text, each at its byte', () => {
    const huge = pngChunk('tEXt', Buffer.from('parameters\0x', 'latin1'));
    huge.writeUInt32BE(0xffffffff, 0);
    refused(pngWithChunks([huge]), 'unreadable', /^PNG chunk tEXt at byte 33 runs past the end of the file$/);
    const whole = pngWithText({ parameters: A1111 });
    refused(whole.subarray(0, 60), 'unreadable', /^PNG chunk tEXt at byte 33 runs past the end of the file$/);
    const badCrc = Buffer.from(whole);
    badCrc[50] ^= 0xff;
    refused(badCrc, 'unreadable', /^PNG chunk tEXt at byte 33 has a bad CRC$/);
    const broken = pngChunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), Buffer.from('not zlib at all')]));
    refused(pngWithChunks([broken]), 'unreadable', /^PNG chunk zTXt at byte 33 has broken compressed text/);
    const noKeywordEnd = pngChunk('tEXt', Buffer.from('parameters', 'latin1'));
    refused(pngWithChunks([noKeywordEnd]), 'unreadable', /^PNG chunk tEXt at byte 33 has no NUL after its keyword$/);
  });

  it('refuses a file that is no image', () => {
    refused(Buffer.from('GIF89a....'), 'unreadable', /^not a PNG, JPEG or WebP image \(unknown signature\)$/);
    refused(new Uint8Array(0), 'unreadable', /unknown signature/);
  });
});
