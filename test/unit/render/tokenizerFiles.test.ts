import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer } from '../../../server/src/render/pipeline/tokenizerFiles';
import { FIXTURES } from '../fixtures';

describe('the render\'s tokenizer files', () => {
  let dir: string;
  let files: { vocab: string; merges: string };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-tokenizer-files-'));
    files = { vocab: path.join(dir, 'vocab.json'), merges: path.join(dir, 'merges.txt') };
    fs.copyFileSync(path.join(FIXTURES, 'clip', 'vocab.json'), files.vocab);
    fs.copyFileSync(path.join(FIXTURES, 'clip', 'merges.txt'), files.merges);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are read once while they stay the same, and read again when one changes on disk', () => {
    const first = loadTokenizer(files);
    assert.strictEqual(loadTokenizer(files), first, 'the second render reuses the first one\'s tokenizer');
    const cat = first.encode('a cat');
    // The vocabulary rewritten with "cat" renamed: a tokenizer from the new file no longer knows "cat</w>".
    const vocab = JSON.parse(fs.readFileSync(files.vocab, 'utf8')) as Record<string, number>;
    vocab['kat</w>'] = vocab['cat</w>'];
    delete vocab['cat</w>'];
    fs.writeFileSync(files.vocab, JSON.stringify(vocab));
    fs.utimesSync(files.vocab, new Date(), new Date(Date.now() + 5000));
    const second = loadTokenizer(files);
    assert.notStrictEqual(second, first);
    assert.notDeepStrictEqual(second.encode('a cat'), cat);
    assert.strictEqual(loadTokenizer(files), second);
  });

  it('are kept for the last 4 model folders loaded: a fifth folder makes the first one be read again', () => {
    // Five model folders with the same files (hard links: the cache keys by path, not content).
    const folders = [1, 2, 3, 4, 5].map(n => {
      const folder = path.join(dir, `model${n}`);
      fs.mkdirSync(folder);
      fs.linkSync(files.vocab, path.join(folder, 'vocab.json'));
      fs.linkSync(files.merges, path.join(folder, 'merges.txt'));
      return { vocab: path.join(folder, 'vocab.json'), merges: path.join(folder, 'merges.txt') };
    });
    const firstFour = folders.slice(0, 4).map(loadTokenizer);
    assert.deepStrictEqual(folders.slice(0, 4).map((f, i) => loadTokenizer(f) === firstFour[i]), [true, true, true, true], 'four are kept');
    const fifth = loadTokenizer(folders[4]);
    // The oldest load (model1) went; model2-4 and model5 stay.
    assert.deepStrictEqual(folders.slice(1, 4).map((f, i) => loadTokenizer(f) === firstFour[i + 1]), [true, true, true]);
    assert.strictEqual(loadTokenizer(folders[4]), fifth);
    assert.notStrictEqual(loadTokenizer(folders[0]), firstFour[0], 'model1 was read again');
  });

  it('a folder read again because its files changed counts as the newest: the next folder past 4 evicts another', () => {
    // A is a copy (touching it must not touch the others' shared inode); B-E are hard links.
    const folder = (name: string, copy: boolean) => {
      const dirOf = path.join(dir, name);
      fs.mkdirSync(dirOf);
      const put = copy ? fs.copyFileSync : fs.linkSync;
      put(files.vocab, path.join(dirOf, 'vocab.json'));
      put(files.merges, path.join(dirOf, 'merges.txt'));
      return { vocab: path.join(dirOf, 'vocab.json'), merges: path.join(dirOf, 'merges.txt') };
    };
    const [a, b, c, d, e] = [folder('renewedA', true), folder('renewedB', false), folder('renewedC', false), folder('renewedD', false), folder('renewedE', false)];
    const [, firstB] = [a, b, c, d].map(loadTokenizer);
    fs.utimesSync(a.vocab, new Date(), new Date(Date.now() + 10000));
    const renewedA = loadTokenizer(a);
    loadTokenizer(e);
    assert.strictEqual(loadTokenizer(a), renewedA, 'A, read again after B, is kept');
    assert.notStrictEqual(loadTokenizer(b), firstB, 'B, now the oldest, was read again');
  });

  it('that are not a CLIP tokenizer fail naming their folder', () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'vocab.json'), '[1, 2]');
    fs.writeFileSync(path.join(bad, 'merges.txt'), '');
    assert.throws(() => loadTokenizer({ vocab: path.join(bad, 'vocab.json'), merges: path.join(bad, 'merges.txt') }), (e: Error) => e.message.startsWith(`${bad}: `));
  });
});
