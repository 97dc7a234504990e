import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { RenderHost } from '../../../server/src/render/renderHost';
import { TINY_SD1_ARCHITECTURE, TINY_SD2_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';

/**
 * The VAE and the clip skip of a checkpoint render, through the render worker: a separate VAE file decodes exactly as
 * a checkpoint that embeds that VAE does (the chosen decoder is used, the rest is the checkpoint's), the sidecar
 * `NAME.vae.safetensors` is A1111's Automatic choice and null its "None", and the infotext says `VAE hash:`/`VAE:`
 * and `Clip skip:` where A1111 writes them.
 */

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

function readSafetensors(file: string): { header: Header; data: Buffer } {
  const bytes = fs.readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Header;
  delete (header as Record<string, unknown>).__metadata__;
  return { header, data: bytes.subarray(8 + length) };
}

/** A safetensors file of the tensors `pick` keeps from each source, renamed by it (undefined drops a tensor). */
function spliceSafetensors(out: string, sources: { file: string; pick: (key: string) => string | undefined }[]): void {
  const header: Header = {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const { file, pick } of sources) {
    const { header: h, data } = readSafetensors(file);
    for (const [key, t] of Object.entries(h)) {
      const name = pick(key);
      if (name === undefined) continue;
      const bytes = data.subarray(t.data_offsets[0], t.data_offsets[1]);
      header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
      parts.push(bytes);
      offset += bytes.length;
    }
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(out, Buffer.concat([prefix, Buffer.from(json), ...parts]));
}

/** The PNG's image data (its IDAT chunks), without the text chunks that carry the infotext. */
function pixels(png: ArrayBuffer): Buffer {
  const bytes = Buffer.from(png);
  const idat: Buffer[] = [];
  for (let at = 8; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    if (bytes.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return Buffer.concat(idat);
}

const VAE_PREFIX = 'first_stage_model.';

describe('a checkpoint render with a chosen VAE and clip skip', function () {
  this.timeout(240000);
  let root: string;
  let host: RenderHost;
  const savedCache = process.env.XDG_CACHE_HOME;
  const prompt = 'a lighthouse\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 6, Seed: 7, Size: 64x64';
  const keys = (infotext: string) => infotext.split('\n').pop()!.split(', ').map((kv) => kv.split(': ')[0]);

  let own = '';
  let vae = '';
  let embedded = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ckpt-vae-render-'));
    process.env.XDG_CACHE_HOME = path.join(root, 'cache');
    host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
    own = path.join(root, 'models', 'tiny.safetensors');
    const other = path.join(root, 'other.safetensors');
    writeCheckpoint(own, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F32', seed: 1 });
    writeCheckpoint(other, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F32', seed: 5 });
    // A webui VAE file (models/VAE): the other checkpoint's VAE under bare names.
    vae = path.join(root, 'VAE', 'other-vae.safetensors');
    fs.mkdirSync(path.dirname(vae));
    spliceSafetensors(vae, [{ file: other, pick: (k) => (k.startsWith(VAE_PREFIX) ? k.slice(VAE_PREFIX.length) : undefined) }]);
    // The reference: the first checkpoint with the other's VAE inside it.
    embedded = path.join(root, 'embedded.safetensors');
    spliceSafetensors(embedded, [
      { file: own, pick: (k) => (k.startsWith(VAE_PREFIX) ? undefined : k) },
      { file: other, pick: (k) => (k.startsWith(VAE_PREFIX) ? k : undefined) },
    ]);
  });
  after(async () => {
    await host.dispose();
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('decodes with the chosen file exactly as a checkpoint embedding that VAE, and writes VAE hash: and VAE: after Model:', async () => {
    const withVae = await host.render({ promptText: prompt, model: own, device: 'cpu', vae });
    const reference = await host.render({ promptText: prompt, model: embedded, device: 'cpu' });
    const plain = await host.render({ promptText: prompt, model: own, device: 'cpu' });
    assert.ok(pixels(withVae.png).equals(pixels(reference.png)));
    assert.ok(!pixels(withVae.png).equals(pixels(plain.png)));
    const sha256 = createHash('sha256').update(fs.readFileSync(vae)).digest('hex');
    const info = readPngInfo(new Uint8Array(withVae.png)).text.parameters;
    assert.match(info, new RegExp(`, Model: tiny, VAE hash: ${sha256.slice(0, 10)}, VAE: other-vae.safetensors, Version: sd-prompt$`));
    assert.deepStrictEqual(keys(plain.infotext), ['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model hash', 'Model', 'Version']);
    assert.deepStrictEqual(withVae.notes, []);
  });

  it('Automatic takes NAME.vae.safetensors beside the checkpoint; null (A1111\'s None) keeps the checkpoint\'s own', async () => {
    const plain = await host.render({ promptText: prompt, model: own, device: 'cpu' });
    const sidecar = own.replace(/\.safetensors$/, '.vae.safetensors');
    fs.copyFileSync(vae, sidecar);
    try {
      const automatic = await host.render({ promptText: prompt, model: own, device: 'cpu' });
      const chosen = await host.render({ promptText: prompt, model: own, device: 'cpu', vae });
      const none = await host.render({ promptText: prompt, model: own, device: 'cpu', vae: null });
      assert.ok(pixels(automatic.png).equals(pixels(chosen.png)));
      assert.match(automatic.infotext, /, VAE: tiny\.vae\.safetensors, /);
      assert.ok(pixels(none.png).equals(pixels(plain.png)));
      assert.ok(!none.infotext.includes('VAE'));
    } finally {
      fs.rmSync(sidecar);
    }
  });

  it('Clip skip: 2 changes an SD1 render and is written after the other keys; SD2 renders the same image and still writes it, as A1111', async () => {
    const skipped = await host.render({ promptText: `${prompt}, Clip skip: 2`, model: own, device: 'cpu' });
    const plain = await host.render({ promptText: prompt, model: own, device: 'cpu' });
    assert.ok(!pixels(skipped.png).equals(pixels(plain.png)));
    assert.match(skipped.infotext, /, Model: tiny, Clip skip: 2, Version: sd-prompt$/);
    const fromOption = await host.render({ promptText: prompt, model: own, device: 'cpu', overrides: { clipSkip: 2 } });
    assert.ok(pixels(fromOption.png).equals(pixels(skipped.png)));
    const fromSetting = await host.render({ promptText: prompt, model: own, device: 'cpu', defaults: { clipSkip: 2 } });
    assert.ok(pixels(fromSetting.png).equals(pixels(skipped.png)));

    const sd2 = path.join(root, 'tiny_sd2.safetensors');
    writeCheckpoint(sd2, { architecture: TINY_SD2_ARCHITECTURE, dtype: 'F32', seed: 2 });
    const sd2Skipped = await host.render({ promptText: `${prompt}, Clip skip: 2`, model: sd2, device: 'cpu' });
    const sd2Plain = await host.render({ promptText: prompt, model: sd2, device: 'cpu' });
    assert.ok(pixels(sd2Skipped.png).equals(pixels(sd2Plain.png)));
    assert.match(sd2Skipped.infotext, /, Clip skip: 2, Version: sd-prompt$/);
  });

  it('a VAE given with a diffusers folder is not used, and a note says so', async () => {
    const folder = path.join(root, 'folder');
    generateTinyPipeline(folder, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    const withVae = await host.render({ promptText: prompt, model: folder, device: 'cpu', vae });
    const plain = await host.render({ promptText: prompt, model: folder, device: 'cpu' });
    assert.deepStrictEqual(withVae.notes, [
      'VAE other-vae.safetensors not used: a diffusers model folder decodes with its own vae_decoder graph (a separate VAE applies to single-file checkpoints, as in A1111).',
    ]);
    assert.deepStrictEqual(plain.notes, []);
    assert.ok(pixels(withVae.png).equals(pixels(plain.png)));
    assert.ok(!withVae.infotext.includes('VAE'));
  });
});
