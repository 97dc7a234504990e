import * as assert from 'assert';
import { MemoryFileSystem, normalizePath } from '../../../server/src/service/library/memoryFileSystem';

describe('MemoryFileSystem', () => {
  it('files, folders, sizes, deterministic mtimes', async () => {
    const memory = new MemoryFileSystem();
    memory.writeFile('/a/b/c.txt', 'héllo');
    memory.writeFile('/a/d.bin', new Uint8Array([1, 2, 3]), { mtimeMs: 42 });
    assert.deepStrictEqual(await memory.readDirectory('/a'), [
      { name: 'b', kind: 'directory' },
      { name: 'd.bin', kind: 'file' },
    ]);
    assert.deepStrictEqual(await memory.stat('/a/b/c.txt'), { kind: 'file', size: 6, mtimeMs: 1_700_000_003_000 });
    assert.deepStrictEqual(await memory.stat('/a/d.bin'), { kind: 'file', size: 3, mtimeMs: 42 });
    assert.strictEqual((await memory.stat('/a')).kind, 'directory');
    assert.strictEqual(await memory.readText('/a/b/c.txt'), 'héllo');
    assert.deepStrictEqual(await memory.readBytes('/a/d.bin', 1, 10), new Uint8Array([2, 3]));
    assert.deepStrictEqual(await memory.readBytes('/a/d.bin', 5, 10), new Uint8Array([]));
    assert.deepStrictEqual(memory.readLog, [
      { path: '/a/d.bin', offset: 1, length: 10 },
      { path: '/a/d.bin', offset: 5, length: 10 },
    ]);
  });

  it('errors carry Node-like codes', async () => {
    const memory = new MemoryFileSystem();
    memory.writeFile('/f', 'x');
    memory.mkdir('/locked');
    memory.setUnreadable('/locked');
    await assert.rejects(memory.stat('/missing'), { code: 'ENOENT', message: "ENOENT: no such file or directory, stat '/missing'" });
    await assert.rejects(memory.readDirectory('/locked'), { code: 'EACCES', message: "EACCES: permission denied, scandir '/locked'" });
    await assert.rejects(memory.readDirectory('/f'), { code: 'ENOTDIR' });
    await assert.rejects(memory.readText('/locked'), { code: 'EISDIR' });
    await assert.rejects(memory.stat('/f/inside'), { code: 'ENOTDIR' });
    memory.setUnreadable('/locked', false);
    assert.deepStrictEqual(await memory.readDirectory('/locked'), []);
  });

  it('symlinks: absolute, relative, in the middle of a path, dangling, and loops (ELOOP)', async () => {
    const memory = new MemoryFileSystem();
    memory.writeFile('/models/real/x.safetensors', 'data');
    memory.symlink('/lora/linked', '/models/real');
    memory.symlink('/lora/rel', '../models/real/x.safetensors');
    memory.symlink('/lora/dangling', '/nowhere');
    memory.symlink('/loop/a', '/loop/b');
    memory.symlink('/loop/b', '/loop/a');
    memory.symlink('/lora/sub/back', '/lora');
    assert.deepStrictEqual(await memory.readDirectory('/lora'), [
      { name: 'dangling', kind: 'symlink' },
      { name: 'linked', kind: 'symlink' },
      { name: 'rel', kind: 'symlink' },
      { name: 'sub', kind: 'directory' },
    ]);
    assert.strictEqual(await memory.realPath('/lora/linked/x.safetensors'), '/models/real/x.safetensors');
    assert.strictEqual(await memory.realPath('/lora/rel'), '/models/real/x.safetensors');
    assert.strictEqual(await memory.realPath('/lora/sub/back/sub/back'), '/lora');
    assert.strictEqual(await memory.readText('/lora/linked/x.safetensors'), 'data');
    assert.strictEqual((await memory.stat('/lora/linked')).kind, 'directory');
    await assert.rejects(memory.stat('/lora/dangling'), { code: 'ENOENT' });
    await assert.rejects(memory.realPath('/loop/a'), { code: 'ELOOP', message: "ELOOP: too many symbolic links encountered, realpath '/loop/a'" });
    await assert.rejects(memory.readDirectory('/loop/b'), { code: 'ELOOP' });
  });

  it('watch fires for writes, removals, renames and mkdir under the folder only; disposer stops it', () => {
    const memory = new MemoryFileSystem();
    memory.mkdir('/lora');
    const seen: string[] = [];
    const stop = memory.watch('/lora', (p) => seen.push(p));
    memory.writeFile('/lora/a.safetensors', 'a');
    memory.writeFile('/other/b.safetensors', 'b');
    memory.mkdir('/lora/sub/deep');
    memory.rename('/lora/a.safetensors', '/lora/sub/a.safetensors');
    memory.symlink('/lora/link', '/other');
    memory.remove('/lora/sub');
    memory.remove('/lora/never-existed');
    stop();
    memory.writeFile('/lora/late.safetensors', 'late');
    assert.deepStrictEqual(seen, [
      '/lora/a.safetensors',
      '/lora/sub',
      '/lora/sub/deep',
      '/lora/a.safetensors',
      '/lora/sub/a.safetensors',
      '/lora/link',
      '/lora/sub',
    ]);
  });

  it('rename moves a whole tree; remove deletes one', async () => {
    const memory = new MemoryFileSystem();
    memory.writeFile('/a/x/1', '1');
    memory.writeFile('/a/x/2', '2');
    memory.rename('/a/x', '/b/y');
    assert.deepStrictEqual((await memory.readDirectory('/b/y')).map((e) => e.name), ['1', '2']);
    assert.deepStrictEqual(await memory.readDirectory('/a'), []);
    memory.remove('/b');
    await assert.rejects(memory.readDirectory('/b'), { code: 'ENOENT' });
    assert.deepStrictEqual((await memory.readDirectory('/')).map((e) => e.name), ['a']);
  });

  it('normalizePath', () => {
    assert.strictEqual(normalizePath('/a/./b//c/../d/'), '/a/b/d');
    assert.strictEqual(normalizePath('/../..'), '/');
  });
});
