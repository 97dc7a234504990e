import * as assert from 'assert';
import { LibraryHost } from '../../server/src/libraryHost';
import { DEFAULT_SETTINGS } from '../../server/src/service';
import { DirEntry } from '../../server/src/service/library/fileSystem';
import { MemoryFileSystem } from '../../server/src/service/library/memoryFileSystem';
import { loraPickList } from '../../server/src/service/features/extensionRequests';
import { buildSafetensors, kohyaSd15, peftSd15 } from './library/build';

/** A memory file system that counts folder listings and the header reads in flight at once. */
class CountingFileSystem extends MemoryFileSystem {
  readonly listings = new Map<string, number>();
  inFlight = 0;
  /** Header and sidecar reads. */
  reads = 0;
  mostInFlight = 0;

  override async readDirectory(path: string): Promise<DirEntry[]> {
    this.listings.set(path, (this.listings.get(path) ?? 0) + 1);
    return super.readDirectory(path);
  }

  override async readText(path: string): Promise<string> {
    this.reads++;
    return super.readText(path);
  }

  override async readBytes(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
    try {
      // A turn of the event loop, as a disk read takes: reads started together are in flight together.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return await super.readBytes(path, offset, length);
    } finally {
      this.inFlight--;
    }
  }
}

const COUNT = 40;
const settings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: ['/loras'] } };

async function libraryOf(fs: CountingFileSystem): Promise<LibraryHost> {
  for (let i = 0; i < COUNT; i++) fs.writeFile(`/loras/styles/style_${i}.safetensors`, kohyaSd15());
  fs.writeFile('/loras/styles/style_7.json', JSON.stringify({ 'activation text': 'smart falcon, night sky' }));
  fs.writeFile('/loras/styles/style_7.preview.png', 'png');
  const host = new LibraryHost(fs, () => false, () => undefined);
  await host.configure(settings);
  return host;
}

describe('the Insert LoRA list (sdPrompt/loraList)', () => {
  it('reads no file: the scan kept what the picker shows, sidecars and preview included', async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    const scanned = { listings: fs.listings.get('/loras/styles'), reads: fs.reads };
    const list = await loraPickList(host.library, settings);
    assert.strictEqual(list.length, COUNT);
    assert.deepStrictEqual({ listings: fs.listings.get('/loras/styles'), reads: fs.reads }, scanned);
    const seventh = list.find((item) => item.name === 'style_7')!;
    assert.deepStrictEqual([seventh.triggerWords, seventh.previewPath], [['smart falcon', 'night sky'], '/loras/styles/style_7.preview.png']);
    host.dispose();
  });

  it('lists what the cards say: the same items before and after every card was read', async () => {
    const fs = new CountingFileSystem();
    fs.writeFile('/loras/a.safetensors', kohyaSd15({ ss_output_name: 'falcon', 'modelspec.trigger_phrase': 'red scarf' }));
    fs.writeFile('/loras/a.json', JSON.stringify({ 'activation text': 'smart falcon', 'preferred weight': 0.6, 'sd version': 'SDXL' }));
    fs.writeFile('/loras/a.civitai.info', JSON.stringify({ trainedWords: ['night sky, red scarf'], baseModel: 'SD 1.5' }));
    fs.writeFile('/loras/a.jpg', 'jpg');
    fs.writeFile('/loras/b.safetensors', kohyaSd15());
    fs.writeFile('/loras/b.civitai.info', JSON.stringify({ baseModel: 'Pony' }));
    fs.writeFile('/loras/c.safetensors', kohyaSd15());
    fs.writeFile('/loras/c.json', '{ not json');
    // No label: the keys decide (SD1), then civitai's label where the keys say nothing.
    fs.writeFile('/loras/d.safetensors', peftSd15());
    fs.writeFile('/loras/e.safetensors', buildSafetensors({}, [{ name: 'lora_unet_mid.lora_down.weight', shape: [4, 320] }]));
    fs.writeFile('/loras/e.civitai.info', JSON.stringify({ baseModel: 'SDXL 1.0' }));
    fs.writeFile('/loras/broken.safetensors', new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0, 0, 0, 0, 0, 0]));
    const host = new LibraryHost(fs, () => false, () => undefined);
    await host.configure(settings);
    const fromScan = await loraPickList(host.library, settings);
    for (const entry of host.catalog.list('lora')) await host.library.loadCard(entry);
    assert.deepStrictEqual(fromScan, await loraPickList(host.library, settings));
    assert.deepStrictEqual(
      fromScan.map((item) => [item.name, item.alias, item.baseModel, item.kind, item.triggerWords, item.weight, item.previewPath, item.problem]),
      [
        ['a', 'falcon', 'SDXL', 'LoRA', ['smart falcon', 'night sky', 'red scarf'], 0.6, '/loras/a.jpg', undefined],
        ['b', undefined, 'SD1', 'LoRA', [], 0.8, undefined, undefined],
        ['broken', undefined, 'unknown', 'unknown', [], 0.8, undefined, 'header is not valid JSON'],
        ['c', undefined, 'SD1', 'LoRA', [], 0.8, undefined, undefined],
        ['d', undefined, 'SD1', 'LoRA', [], 0.8, undefined, undefined],
        ['e', undefined, 'SDXL', 'LoRA', [], 0.8, undefined, undefined],
      ],
    );
    host.dispose();
  });

  it('reads the cards the scan kept no summary of (a long trigger list), at most 16 at once', async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    const words = Array.from({ length: 65 }, (_, i) => `word ${i}`);
    for (let i = 0; i < COUNT; i++) fs.writeFile(`/loras/styles/style_${i}.json`, JSON.stringify({ 'activation text': words.join(', ') }));
    await host.catalog.setRoots({ lora: ['/loras'], embedding: [], hypernet: [] });
    fs.mostInFlight = 0;
    const list = await loraPickList(host.library, settings);
    assert.strictEqual(fs.mostInFlight, 16);
    assert.deepStrictEqual(list[3].triggerWords, words);
    host.dispose();
  });

  it('a LoRA added with its sidecar after a list shows its trigger words in the next list', async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    await loraPickList(host.library, settings);
    const changed = new Promise<void>((resolve) => {
      const stop = host.catalog.onDidChange(() => {
        if (!host.catalog.resolveLora('added')) return;
        stop();
        resolve();
      });
    });
    fs.writeFile('/loras/styles/added.json', JSON.stringify({ 'activation text': 'blue coat' }));
    fs.writeFile('/loras/styles/added.safetensors', kohyaSd15());
    await changed;
    const added = (await loraPickList(host.library, settings)).find((item) => item.name === 'added')!;
    assert.deepStrictEqual(added.triggerWords, ['blue coat']);
    host.dispose();
  });

  it('a sidecar edited after the scan shows in the next list (and in the card)', async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    const entry = host.catalog.resolveLora('style_7')!;
    await host.library.loadCard(entry);
    const changed = new Promise<void>((resolve) => {
      const stop = host.catalog.onDidChange(() => {
        stop();
        resolve();
      });
    });
    fs.writeFile('/loras/styles/style_7.json', JSON.stringify({ 'activation text': 'blue coat', 'preferred weight': 0.5 }));
    await changed;
    const seventh = (await loraPickList(host.library, settings)).find((item) => item.name === 'style_7')!;
    assert.deepStrictEqual([seventh.triggerWords, seventh.weight], [['blue coat'], 0.5]);
    const card = await host.library.loadCard(host.catalog.resolveLora('style_7')!);
    assert.deepStrictEqual(card!.triggerWords, [{ word: 'blue coat', source: 'activation text' }]);
    host.dispose();
  });
});
