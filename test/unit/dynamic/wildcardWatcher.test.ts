import * as assert from 'assert';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { WildcardWatcher } from '../../../server/src/service/dynamic/wildcardWatcher';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';

describe('wildcard watcher', () => {
  const settings = { ...DEFAULT_SETTINGS, wildcards: { directories: ['/w'] } };

  it('loads the settings folders, and loads again when a file is added, edited or removed (one rescan per burst)', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/w/times.txt', 'dawn\n');
    const watcher = new WildcardWatcher(fs);
    try {
      await watcher.configure(settings, () => false);
      assert.deepStrictEqual(watcher.library.values('times').stringValues, ['dawn']);

      let rescans = 0;
      watcher.onDidChange(() => rescans++);
      const next = () =>
        new Promise<WildcardLibrary>((resolve) => {
          const stop = watcher.onDidChange((library) => {
            stop();
            resolve(library);
          });
        });
      let changed = next();
      fs.writeFile('/w/times.txt', 'dawn\ndusk\n');
      fs.writeFile('/w/sub/animals.txt', 'fox\n');
      let library = await changed;
      assert.strictEqual(rescans, 1);
      assert.deepStrictEqual(library.values('times').stringValues, ['dawn', 'dusk']);
      assert.deepStrictEqual(library.values('sub/animals').stringValues, ['fox']);
      assert.strictEqual(watcher.library, library);

      // The new subfolder is watched too.
      changed = next();
      fs.writeFile('/w/sub/animals.txt', 'fox\nowl\n');
      library = await changed;
      assert.deepStrictEqual(library.values('sub/animals').stringValues, ['fox', 'owl']);
      assert.strictEqual(rescans, 2);

      changed = next();
      fs.remove('/w/times.txt');
      library = await changed;
      assert.strictEqual(library.values('times').length, 0);
      assert.strictEqual(rescans, 3);
    } finally {
      watcher.dispose();
    }
  });

  it('the same folders again read nothing; new settings read the new folders', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/w/a.txt', 'x\n');
    fs.writeFile('/v/b.txt', 'y\n');
    const watcher = new WildcardWatcher(fs);
    try {
      await watcher.configure(settings, () => false);
      const first = watcher.library;
      await watcher.configure({ ...settings }, () => false);
      assert.strictEqual(watcher.library, first);
      await watcher.configure({ ...settings, wildcards: { directories: ['/v'] } }, () => false);
      assert.deepStrictEqual(watcher.library.names(), ['b']);
    } finally {
      watcher.dispose();
    }
  });
});
