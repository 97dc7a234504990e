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

  it('that are not a CLIP tokenizer fail naming their folder', () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'vocab.json'), '[1, 2]');
    fs.writeFileSync(path.join(bad, 'merges.txt'), '');
    assert.throws(() => loadTokenizer({ vocab: path.join(bad, 'vocab.json'), merges: path.join(bad, 'merges.txt') }), (e: Error) => e.message.startsWith(`${bad}: `));
  });
});
