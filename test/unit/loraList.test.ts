import * as assert from 'assert';
import { LibraryHost } from '../../server/src/libraryHost';
import { DEFAULT_SETTINGS } from '../../server/src/service';
import { DirEntry } from '../../server/src/service/library/fileSystem';
import { MemoryFileSystem } from '../../server/src/service/library/memoryFileSystem';
import { loraPickList } from '../../server/src/service/features/extensionRequests';
import { kohyaSd15 } from './library/build';

/** A memory file system that counts folder listings and the header reads in flight at once. */
class CountingFileSystem extends MemoryFileSystem {
  readonly listings = new Map<string, number>();
  inFlight = 0;
  mostInFlight = 0;

  override async readDirectory(path: string): Promise<DirEntry[]> {
    this.listings.set(path, (this.listings.get(path) ?? 0) + 1);
    return super.readDirectory(path);
  }

  override async readBytes(path: string, offset: number, length: number): Promise<Uint8Array> {
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
  it("reads every card's sidecars from one listing of the folder, not one per card", async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    const scanned = fs.listings.get('/loras/styles');
    const list = await loraPickList(host.library, settings);
    assert.strictEqual(list.length, COUNT);
    assert.strictEqual(fs.listings.get('/loras/styles')! - scanned!, 1);
    const seventh = list.find((item) => item.name === 'style_7')!;
    assert.deepStrictEqual([seventh.triggerWords, seventh.previewPath], [['smart falcon', 'night sky'], '/loras/styles/style_7.preview.png']);
    host.dispose();
  });

  it('reads at most 16 cards at once', async () => {
    const fs = new CountingFileSystem();
    const host = await libraryOf(fs);
    fs.mostInFlight = 0;
    await loraPickList(host.library, settings);
    assert.strictEqual(fs.mostInFlight, 16);
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
});
