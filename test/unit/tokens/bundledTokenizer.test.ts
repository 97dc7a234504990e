import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundledClipFolder } from '../../../server/src/node/bundledTokenizer';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { loadTokenizer } from '../../../server/src/service/tokens/tokenizerFiles';
import { FIXTURES } from '../fixtures';

const REPO = path.resolve(__dirname, '../../../..');
const vocab = fs.readFileSync(path.join(FIXTURES, 'clip/vocab.json'), 'utf8');
const merges = fs.readFileSync(path.join(FIXTURES, 'clip/merges.txt'), 'utf8');

/** A disk without any tokenizer but the shipped one at /app/resources/clip. */
function shipped(): MemoryFileSystem {
  const files = new MemoryFileSystem();
  files.writeFile('/app/resources/clip/vocab.json', vocab);
  files.writeFile('/app/resources/clip/merges.txt', merges);
  return files;
}

describe('the CLIP tokenizer shipped in resources/clip', () => {
  it('is found from the compiled code and is CLIP ViT-L/14 byte for byte', () => {
    const folder = bundledClipFolder();
    assert.strictEqual(folder, path.join(REPO, 'resources', 'clip'));
    assert.strictEqual(fs.readFileSync(path.join(folder!, 'vocab.json'), 'utf8'), vocab);
    assert.strictEqual(fs.readFileSync(path.join(folder!, 'merges.txt'), 'utf8'), merges);
    assert.match(fs.readFileSync(path.join(folder!, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2021 OpenAI/);
  });

  it('is not found where there is none', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-no-clip-'));
    try {
      assert.strictEqual(bundledClipFolder(empty), undefined);
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });

  it('gives exact counts with no setting, no model and no Hugging Face cache', async () => {
    const loaded = await loadTokenizer(shipped(), { home: '/home/u', bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.tokenizer.approximate, false);
    assert.strictEqual(loaded.source, 'bundled CLIP tokenizer (/app/resources/clip)');
    assert.strictEqual(loaded.problem, undefined);
    assert.deepStrictEqual(loaded.tokenizer.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
  });

  it('a model folder without tokenizer/ (a checkpoint) is not a problem', async () => {
    const loaded = await loadTokenizer(shipped(), { modelFolder: '/models/x.safetensors', bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.source, 'bundled CLIP tokenizer (/app/resources/clip)');
    assert.strictEqual(loaded.problem, undefined);
  });

  it('a tokenizer folder the user named but that lacks the files is said, and counts stay exact', async () => {
    const loaded = await loadTokenizer(shipped(), { tokenizerPath: '/typo', bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.tokenizer.approximate, false);
    assert.strictEqual(loaded.problem, 'tokenizer folder /typo (no vocab.json or merges.txt); using the bundled CLIP tokenizer');
  });

  it("the user's broken files are named, and the shipped ones count instead", async () => {
    const files = shipped();
    files.writeFile('/tok/vocab.json', '{"a": 1,');
    files.writeFile('/tok/merges.txt', merges);
    const loaded = await loadTokenizer(files, { tokenizerPath: '/tok', bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.tokenizer.approximate, false);
    assert.strictEqual(loaded.source, 'bundled CLIP tokenizer (/app/resources/clip)');
    assert.match(loaded.problem ?? '', /^\/tok\/vocab\.json: is not valid JSON.*; using the bundled CLIP tokenizer$/);
  });

  it('a user setting that works still wins over the shipped files', async () => {
    const files = shipped();
    files.writeFile('/tok/vocab.json', vocab);
    files.writeFile('/tok/merges.txt', merges);
    const loaded = await loadTokenizer(files, { tokenizerPath: '/tok', bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.source, 'sdPrompt.tokenizerPath (/tok)');
  });

  it('shipped files that are gone leave the estimate, with the place listed', async () => {
    const loaded = await loadTokenizer(new MemoryFileSystem(), { bundledFolder: '/app/resources/clip' });
    assert.strictEqual(loaded.tokenizer.approximate, true);
    assert.match(loaded.problem ?? '', /Looked in: \/app\/resources\/clip \(no vocab\.json or merges\.txt\)$/);
  });

  it('loads from the real disk through the Node file system', async () => {
    const loaded = await loadTokenizer(new NodeFileSystem(), { bundledFolder: bundledClipFolder(), home: '/nonexistent-home' });
    assert.deepStrictEqual([loaded.tokenizer.approximate, loaded.problem], [false, undefined]);
  });
});
