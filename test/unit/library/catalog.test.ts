import * as assert from 'assert';
import { CatalogEntry, LoraCatalog } from '../../../server/src/service/library/catalog';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { naturalCompare } from '../../../server/src/service/library/naturalSort';

/** A catalog whose describer reads aliases from a tiny JSON "file" instead of safetensors headers. */
function catalogOn(fs: MemoryFileSystem) {
  const described: string[] = [];
  const catalog = new LoraCatalog(
    fs,
    async (entry) => {
      described.push(entry.path);
      const text = await fs.readText(entry.path);
      return text.startsWith('{') ? { alias: JSON.parse(text).alias } : {};
    },
    5,
  );
  return { catalog, described };
}

const names = (entries: CatalogEntry[]) => entries.map((e) => `${e.subfolder ? e.subfolder + '/' : ''}${e.name}${e.extension}`);

/** Resolves when the catalog next reports a change (no sleeps). */
const changed = (catalog: LoraCatalog) => new Promise<void>((resolve) => {
  const stop = catalog.onDidChange(() => {
    stop();
    resolve();
  });
});

describe('LoRA catalog', () => {
  it('scans recursively in A1111 order, skipping hidden folders and other files', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/lora/b10.safetensors', '');
    fs.writeFile('/lora/b9.safetensors', '');
    fs.writeFile('/lora/A.safetensors', '');
    fs.writeFile('/lora/old.PT', '');
    fs.writeFile('/lora/readme.txt', '');
    fs.writeFile('/lora/style/anime.safetensors', '');
    fs.writeFile('/lora/.trash/gone.safetensors', '');
    fs.writeFile('/lora/.dotfile.safetensors', '');
    const { catalog } = catalogOn(fs);
    await catalog.setRoots({ lora: ['/lora'], embedding: [], hypernet: [] });
    assert.deepStrictEqual(names(catalog.list()), ['.dotfile.safetensors', 'A.safetensors', 'b9.safetensors', 'b10.safetensors', 'old.pt', 'style/anime.safetensors']);
    assert.strictEqual(catalog.resolveLora('old')!.pickle, true);
    assert.strictEqual(catalog.resolveLora('anime')!.subfolder, 'style');
    assert.strictEqual(catalog.resolveLora('gone'), undefined);
    assert.strictEqual(catalog.resolveLora('a'), undefined, 'lookups are case-sensitive');
  });

  it('names, aliases, last file wins, duplicate aliases', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/l/a/x.safetensors', '{"alias":"shared"}');
    fs.writeFile('/l/b/x.safetensors', '{"alias":"other"}');
    fs.writeFile('/l/b/y.safetensors', '{"alias":"shared"}');
    const { catalog } = catalogOn(fs);
    await catalog.setRoots({ lora: ['/l'], embedding: [], hypernet: [] });
    assert.strictEqual(catalog.resolveLora('x')!.path, '/l/b/x.safetensors');
    assert.strictEqual(catalog.resolveLora('other')!.path, '/l/b/x.safetensors');
    assert.strictEqual(catalog.resolveLora('shared')!.path, '/l/b/y.safetensors');
    assert.strictEqual(catalog.isAmbiguousAlias('shared'), true);
    assert.strictEqual(catalog.isAmbiguousAlias('other'), false);
    assert.deepStrictEqual(catalog.filesWithAlias('shared').map((e) => e.path), ['/l/a/x.safetensors', '/l/b/y.safetensors']);
  });

  it('survives symlink loops and unreadable folders, and says so', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/l/ok.safetensors', '');
    fs.mkdir('/l/sub');
    fs.symlink('/l/sub/back', '/l');
    fs.mkdir('/l/locked');
    fs.writeFile('/l/locked/secret.safetensors', '');
    fs.setUnreadable('/l/locked');
    const { catalog } = catalogOn(fs);
    await catalog.setRoots({ lora: ['/l'], embedding: [], hypernet: [] });
    assert.deepStrictEqual(names(catalog.list()), ['ok.safetensors']);
    assert.deepStrictEqual(
      catalog.problems.map((p) => p.path),
      ['/l/locked', '/l/sub/back'],
    );
    assert.match(catalog.problems[1].message, /symlink loop/);
  });

  it('a file added, renamed or removed updates one entry without rereading the others', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/l/a.safetensors', '');
    fs.writeFile('/l/b.safetensors', '');
    const { catalog, described } = catalogOn(fs);
    await catalog.setRoots({ lora: ['/l'], embedding: [], hypernet: [] });
    assert.strictEqual(described.length, 2);

    let next = changed(catalog);
    fs.writeFile('/l/new/c.safetensors', '{"alias":"cee"}');
    await next;
    assert.deepStrictEqual(names(catalog.list()), ['a.safetensors', 'b.safetensors', 'new/c.safetensors']);
    assert.strictEqual(catalog.resolveLora('cee')!.name, 'c');

    next = changed(catalog);
    fs.rename('/l/a.safetensors', '/l/z.safetensors');
    await next;
    // A1111 orders by folder first: /l before /l/new.
    assert.deepStrictEqual(names(catalog.list()), ['b.safetensors', 'z.safetensors', 'new/c.safetensors']);

    next = changed(catalog);
    fs.remove('/l/new');
    await next;
    assert.deepStrictEqual(names(catalog.list()), ['b.safetensors', 'z.safetensors']);
    assert.deepStrictEqual(described, ['/l/a.safetensors', '/l/b.safetensors', '/l/new/c.safetensors', '/l/z.safetensors']);
    catalog.dispose();
  });

  it('natural sort compares digit runs as numbers', () => {
    assert.deepStrictEqual(['x10', 'X2', 'x1'].sort(naturalCompare), ['x1', 'X2', 'x10']);
  });
});
