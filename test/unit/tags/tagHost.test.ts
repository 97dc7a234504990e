import * as assert from 'assert';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service/settings';
import { TagHost } from '../../../server/src/tagHost';

const settings = (webuiPath: string, files: string[] = []): PromptSettings => ({ ...DEFAULT_SETTINGS, webuiPath, tags: { files } });

describe('tag host', () => {
  it('loads the lists for the settings, logs problems as file:line, and reloads only when they name other lists', async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/sd/extensions/a1111-sd-webui-tagcomplete/tags/danbooru.csv', 'long_hair,0,4350743,longhair\n"broken\n');
    const log: string[] = [];
    const host = new TagHost(mem, (m) => log.push(m), () => undefined);
    try {
      assert.strictEqual(host.index, undefined);
      assert.strictEqual(await host.configure(settings('/sd')), true);
      assert.strictEqual(host.index!.size, 1);
      assert.deepStrictEqual(log.slice(1), ['tags: /sd/extensions/a1111-sd-webui-tagcomplete/tags/danbooru.csv:2: the quote opened at column 1 is not closed on this line']);
      assert.match(log[0], /^tags: 1 tags from 1 list\(s\) read in \d+ ms$/);
      assert.strictEqual(await host.configure(settings('/sd')), false);
      assert.strictEqual(await host.configure(settings('/sd', ['/missing.csv'])), true);
      assert.deepStrictEqual(log.slice(-2), [
        'tags: /missing.csv: not found (sdPrompt.tags.files)',
        'tags: /sd/extensions/a1111-sd-webui-tagcomplete/tags/danbooru.csv:2: the quote opened at column 1 is not closed on this line',
      ]);
      assert.strictEqual(await host.configure(settings('')), true);
      assert.strictEqual(host.index!.size, 0);
    } finally {
      host.dispose();
    }
  });

  it('reads a list again when it changes on disk, and says so once', async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/lists/mine.csv', 'first_tag,0,1,\n');
    let announced!: () => void;
    const changed = new Promise<void>((resolve) => (announced = resolve));
    const host = new TagHost(mem, () => undefined, () => announced());
    try {
      await host.configure(settings('', ['/lists/mine.csv']));
      assert.strictEqual(host.index!.find('second tag'), undefined);
      mem.writeFile('/lists/mine.csv', 'first_tag,0,1,\nsecond_tag,0,2,\n');
      mem.writeFile('/lists/other.csv', 'third_tag,0,3,\n'); // same folder, not a list the setting names: no effect
      await changed;
      assert.strictEqual(host.index!.find('second tag')!.tag.name, 'second_tag');
      assert.strictEqual(host.index!.size, 2);
    } finally {
      host.dispose();
    }
  });
});
