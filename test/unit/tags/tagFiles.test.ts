import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service/settings';
import { findTagFiles, formatTagFileProblem, loadTagFiles } from '../../../server/src/service/tags/tagFiles';
import { FIXTURES } from '../fixtures';

const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, 'tags', name), 'utf8');
const settings = (over: { webuiPath?: string; files?: string[] }): PromptSettings => ({
  ...DEFAULT_SETTINGS,
  webuiPath: over.webuiPath ?? '',
  tags: { files: over.files ?? [] },
});

describe('tag lists on disk', () => {
  it("finds every CSV in the webui's tagcomplete tags/ folder, under either install name", async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/sd/extensions/a1111-sd-webui-tagcomplete/tags/danbooru.csv', fixture('danbooru.csv'));
    mem.writeFile('/sd/extensions/a1111-sd-webui-tagcomplete/tags/e621.csv', fixture('e621.csv'));
    mem.writeFile('/sd/extensions/a1111-sd-webui-tagcomplete/tags/config.json', '{}');
    mem.writeFile('/sd/extensions/tag-autocomplete/tags/extra-quality-tags.csv', fixture('extra-quality-tags.csv'));
    mem.writeFile('/sd/extensions/sd-dynamic-prompts/tags/not-tagcomplete.csv', 'x,0,1,');
    const found = await findTagFiles(mem, settings({ webuiPath: '/sd/' }));
    assert.deepStrictEqual(found, {
      paths: [
        '/sd/extensions/a1111-sd-webui-tagcomplete/tags/danbooru.csv',
        '/sd/extensions/a1111-sd-webui-tagcomplete/tags/e621.csv',
        '/sd/extensions/tag-autocomplete/tags/extra-quality-tags.csv',
      ],
      problems: [],
    });
    const loaded = await loadTagFiles(mem, found.paths);
    assert.deepStrictEqual(loaded.files.map((f) => f.count), [31, 8, 6]);
    assert.strictEqual(loaded.index.size, 43);
    assert.strictEqual(loaded.index.search('canid', 5).matches[0].tag.file, '/sd/extensions/a1111-sd-webui-tagcomplete/tags/e621.csv');
  });

  it('reads the files and folders named by sdPrompt.tags.files, and says which are missing', async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/lists/mine.csv', 'ahri_(league_of_legends),4,4127,ahri\n');
    mem.writeFile('/more/b.csv', 'b_tag,0,2,\n');
    mem.writeFile('/more/a.CSV', 'a_tag,0,1,\n');
    mem.writeFile('/more/readme.txt', 'not a list');
    const found = await findTagFiles(mem, settings({ files: ['/lists/mine.csv', '/more', '/gone.csv'] }));
    assert.deepStrictEqual(found, {
      paths: ['/lists/mine.csv', '/more/a.CSV', '/more/b.csv'],
      problems: [{ file: '/gone.csv', line: 0, message: 'not found (sdPrompt.tags.files)' }],
    });
    const loaded = await loadTagFiles(mem, found.paths);
    assert.strictEqual(loaded.index.find('ahri')!.tag.name, 'ahri_(league_of_legends)');
    assert.deepStrictEqual(await findTagFiles(mem, settings({})), { paths: [], problems: [] });
  });

  it('reports an unreadable list and malformed lines as file:line, and keeps the rest', async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/t/ok.csv', 'good,0,5,\n"bad,0,1,\nalso_good,0,3,\n');
    mem.writeFile('/t/locked.csv', 'x,0,1,');
    mem.setUnreadable('/t/locked.csv');
    const loaded = await loadTagFiles(mem, ['/t/ok.csv', '/t/locked.csv']);
    assert.deepStrictEqual(loaded.files, [{ path: '/t/ok.csv', count: 2 }]);
    assert.strictEqual(loaded.problems.length, 2);
    assert.strictEqual(formatTagFileProblem(loaded.problems[0]), '/t/ok.csv:2: the quote opened at column 1 is not closed on this line');
    assert.match(formatTagFileProblem(loaded.problems[1]), /^\/t\/locked\.csv: cannot be read: EACCES/);
  });

  it('skips a file too large to be a tag list instead of reading it into memory', async () => {
    const mem = new MemoryFileSystem();
    mem.writeFile('/t/huge.csv', 'x'.repeat(2000));
    mem.writeFile('/t/ok.csv', 'good,0,5,\n');
    const loaded = await loadTagFiles(mem, ['/t/huge.csv', '/t/ok.csv'], 1000);
    assert.deepStrictEqual(loaded.files, [{ path: '/t/ok.csv', count: 1 }]);
    assert.deepStrictEqual(loaded.problems.map(formatTagFileProblem), ['/t/huge.csv: 2,000 bytes is more than a tag list holds (at most 1,000); skipped']);
  });
});
