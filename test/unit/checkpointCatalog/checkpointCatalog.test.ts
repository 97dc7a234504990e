import * as assert from 'assert';
import { createHash } from 'crypto';
import { CatalogEntry, LoraCatalog, ModelFileDetails } from '../../../server/src/service/library/catalog';
import { checkpointIds, checkpointNames, checkpointTitle, chooseCheckpoint, findCheckpoint } from '../../../server/src/service/library/checkpoints';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { fileSha256, legacyModelHash, webuiHashCache } from '../../../server/src/service/library/modelHashes';
import { libraryFolders, resolveSettings } from '../../../server/src/service/settings';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A catalog whose describer gives each checkpoint a legacy hash from a table (the real one reads headers). */
async function checkpoints(files: string[], legacy: Record<string, string> = {}) {
  const fs = new MemoryFileSystem();
  for (const f of files) fs.writeFile(f, '');
  const catalog = new LoraCatalog(fs, async (entry) => {
    const model: ModelFileDetails = { family: 'sd1', renderable: true, dtype: 'F16', legacyHash: legacy[entry.path] ?? '00000000' };
    return { model };
  });
  await catalog.setRoots({ lora: [], embedding: [], hypernet: [], checkpoint: ['/webui/models/Stable-diffusion'], vae: ['/webui/models/VAE'] });
  return catalog;
}

const SD = '/webui/models/Stable-diffusion';

describe('checkpoint catalog (A1111 models/Stable-diffusion)', () => {
  it('lists .safetensors and .ckpt in A1111 order, leaving NAME.vae.* and other files out; VAEs apart', async () => {
    const catalog = await checkpoints([
      `${SD}/v1-5.safetensors`,
      `${SD}/v1-5.vae.safetensors`,
      `${SD}/old.ckpt`,
      `${SD}/notes.txt`,
      `${SD}/xl/juggernaut10.safetensors`,
      `${SD}/xl/juggernaut9.safetensors`,
      '/webui/models/VAE/sdxl_vae.safetensors',
    ]);
    assert.deepStrictEqual(catalog.list('checkpoint').map((e) => checkpointNames(e).name), ['old.ckpt', 'v1-5.safetensors', 'xl/juggernaut9.safetensors', 'xl/juggernaut10.safetensors']);
    assert.deepStrictEqual(catalog.list('vae').map((e) => e.name), ['sdxl_vae']);
    assert.strictEqual(catalog.list('checkpoint')[0].pickle, true);
    assert.deepStrictEqual(catalog.list('lora'), []);
  });

  it("names a file as A1111 does: relative path with extension, the file name for Model:, folders joined by _", async () => {
    const [entry] = (await checkpoints([`${SD}/xl/real/Juggernaut XL.safetensors`])).list('checkpoint');
    assert.deepStrictEqual(checkpointNames(entry), { name: 'xl/real/Juggernaut XL.safetensors', nameForExtra: 'Juggernaut XL', modelName: 'xl_real_Juggernaut XL' });
    assert.strictEqual(checkpointTitle(entry, undefined), 'xl/real/Juggernaut XL.safetensors');
    assert.strictEqual(checkpointTitle(entry, 'e6e99610c4' + '0'.repeat(54)), 'xl/real/Juggernaut XL.safetensors [e6e99610c4]');
  });

  it("is found by every id A1111 registers; the short-hash ids exist once the sha256 is known", async () => {
    const [entry] = (await checkpoints([`${SD}/sub/model.safetensors`], { [`${SD}/sub/model.safetensors`]: '45dee52b' })).list('checkpoint');
    const full = 'e6e99610c4' + 'ab'.repeat(27);
    assert.deepStrictEqual(checkpointIds(entry, undefined), ['45dee52b', 'sub_model', 'sub/model.safetensors', 'sub/model.safetensors', 'model', 'sub/model.safetensors [45dee52b]']);
    assert.deepStrictEqual(checkpointIds(entry, full).slice(6), ['e6e99610c4', full, 'sub/model.safetensors [e6e99610c4]', 'model [e6e99610c4]']);
  });

  it('Model hash picks first (the last file in scan order wins a shared id); else Model; a hash nobody has picks nothing', async () => {
    const catalog = await checkpoints([`${SD}/a/model.safetensors`, `${SD}/b/model.safetensors`, `${SD}/other.safetensors`], {
      [`${SD}/a/model.safetensors`]: 'aaaaaaaa',
      [`${SD}/b/model.safetensors`]: 'bbbbbbbb',
      [`${SD}/other.safetensors`]: 'cccccccc',
    });
    const entries = catalog.list('checkpoint');
    const none = () => undefined;
    const name = (e: CatalogEntry | undefined) => (e ? checkpointNames(e).name : undefined);
    // Scan order: the folder's own files, then its subfolders in natural order.
    assert.deepStrictEqual(entries.map(name), ['other.safetensors', 'a/model.safetensors', 'b/model.safetensors']);
    assert.strictEqual(name(findCheckpoint(entries, 'model', none)), 'b/model.safetensors');
    assert.deepStrictEqual(chooseCheckpoint(entries, { model: 'model', modelHash: 'cccccccc' }, none), { entry: entries[0], by: 'Model hash' });
    assert.strictEqual(name(chooseCheckpoint(entries, { model: 'model', modelHash: 'aaaaaaaa' }, none).entry), 'a/model.safetensors');
    assert.deepStrictEqual(chooseCheckpoint(entries, { model: 'model', modelHash: 'ffffffff' }, none), { entry: entries[2], by: 'Model' });
    assert.deepStrictEqual(chooseCheckpoint(entries, { model: 'nothing', modelHash: 'ffffffff' }, none), {});
    // 10-hex short hashes match only once the file's sha256 is known.
    const full = '0123456789' + 'f'.repeat(54);
    assert.strictEqual(name(chooseCheckpoint(entries, { modelHash: '0123456789' }, (e) => (e === entries[1] ? full : undefined)).entry), 'a/model.safetensors');
    assert.deepStrictEqual(chooseCheckpoint(entries, { modelHash: '0123456789' }, none), {});
  });

  it('the webui path adds models/Stable-diffusion (or ComfyUI models/checkpoints) and one of models/VAE, models/vae', () => {
    const have = new Set(['/w/models/Stable-diffusion', '/w/models/checkpoints', '/w/models/VAE', '/w/models/vae']);
    const roots = libraryFolders(resolveSettings({ webuiPath: '/w/' }), (p) => have.has(p));
    assert.deepStrictEqual([roots.checkpoint, roots.vae], [['/w/models/Stable-diffusion', '/w/models/checkpoints'], ['/w/models/VAE']]);
    assert.deepStrictEqual(libraryFolders(resolveSettings({}), () => true).checkpoint, []);
  });
});

describe('checkpoint hashes', () => {
  const bytes = Uint8Array.from({ length: 0x100000 + 0x10000 + 100 }, (_, i) => (i * 7919) % 251);

  it("legacy model hash: sha256 of the 64 KiB at 1 MiB, 8 hex; a short file hashes what is there", async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/m.safetensors', bytes);
    fs.writeFile('/small.safetensors', bytes.subarray(0, 0x100000 + 10));
    fs.writeFile('/tiny.safetensors', bytes.subarray(0, 100));
    assert.strictEqual(await legacyModelHash(fs, '/m.safetensors'), sha(bytes.subarray(0x100000, 0x110000)).slice(0, 8));
    assert.strictEqual(await legacyModelHash(fs, '/small.safetensors'), sha(bytes.subarray(0x100000, 0x100000 + 10)).slice(0, 8));
    assert.strictEqual(await legacyModelHash(fs, '/tiny.safetensors'), 'e3b0c442'); // sha256 of nothing
  });

  it('whole-file sha256 equals one over all bytes; a file that shrank while hashed is an error', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/m.safetensors', bytes);
    assert.strictEqual(await fileSha256(fs, '/m.safetensors', bytes.length), sha(bytes));
    await assert.rejects(fileSha256(fs, '/m.safetensors', bytes.length + 5), /\/m\.safetensors ended at 1114212 bytes while hashing \(expected 1114217\): it changed on disk/);
  });

  it("A1111's cache.json gives a sha256 while the file is not newer than the entry; broken caches count as none", async () => {
    const fs = new MemoryFileSystem();
    const full = 'a'.repeat(64);
    fs.writeFile(`${SD}/sub/m.safetensors`, '', { mtimeMs: 1_700_000_000_000 });
    fs.writeFile(`${SD}/new.safetensors`, '', { mtimeMs: 1_700_000_500_000 });
    fs.writeFile(
      '/webui/cache.json',
      JSON.stringify({ hashes: { 'checkpoint/sub/m.safetensors': { mtime: 1_700_000_000.5, sha256: full }, 'checkpoint/new.safetensors': { mtime: 1_700_000_000, sha256: full } } }),
    );
    const catalog = new LoraCatalog(fs, async () => ({}));
    await catalog.setRoots({ lora: [], embedding: [], hypernet: [], checkpoint: [SD] });
    const cache = await webuiHashCache(fs, '/webui/');
    assert.deepStrictEqual(catalog.list('checkpoint').map((e) => [e.name, cache.sha256(e)]), [['new', undefined], ['m', full]]);
    fs.writeFile('/webui/cache.json', '{"hashes": 5');
    assert.strictEqual((await webuiHashCache(fs, '/webui')).sha256(catalog.list('checkpoint')[1]), undefined);
    assert.strictEqual((await webuiHashCache(fs, '/nowhere')).sha256(catalog.list('checkpoint')[1]), undefined);
  });
});
