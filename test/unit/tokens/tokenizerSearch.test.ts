import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { findTokenizerFiles, loadTokenizer } from '../../../server/src/service/tokens/tokenizerFiles';
import { FIXTURES } from '../fixtures';

/*
 * Where the tokenizer files are looked for, as the "looked in" list tells the user when none are found
 * (clipTokenizer.test.ts covers the order of the places and the broken files): every incomplete
 * Hugging Face snapshot in order, newest name first, files in the snapshot folder left out, snapshots
 * that are links followed, and the paths the user wrote shown without their trailing slashes. Written
 * from the mutants `npm run mutation` found no test for.
 */
const HOME = '/home/u';
const SNAPSHOTS = `${HOME}/.cache/huggingface/hub/models--openai--clip-vit-large-patch14/snapshots`;
const vocab = fs.readFileSync(path.join(FIXTURES, 'clip/vocab.json'), 'utf8');
const merges = fs.readFileSync(path.join(FIXTURES, 'clip/merges.txt'), 'utf8');

describe('tokenizer files: the places looked in', () => {
  it('every incomplete Hugging Face snapshot, newest name first, in the list and in the message; a file there is no snapshot', async () => {
    const files = new MemoryFileSystem();
    // Written out of name order, so the order of the list is the search's own.
    files.writeFile(`${SNAPSHOTS}/b2/vocab.json`, vocab);
    files.mkdir(`${SNAPSHOTS}/a1`);
    files.writeFile(`${SNAPSHOTS}/zzz`, 'a file, not a snapshot');
    files.writeFile(`${SNAPSHOTS}/c3/merges.txt`, merges);
    files.writeFile(`${SNAPSHOTS}/b1/merges.txt`, merges);
    const looked = [
      `${SNAPSHOTS}/c3 (no vocab.json)`,
      `${SNAPSHOTS}/b2 (no merges.txt)`,
      `${SNAPSHOTS}/b1 (no vocab.json)`,
      `${SNAPSHOTS}/a1 (no vocab.json or merges.txt)`,
    ];
    assert.deepStrictEqual(await findTokenizerFiles(files, { home: HOME }), { missing: looked });
    const loaded = await loadTokenizer(files, { home: HOME });
    assert.strictEqual(loaded.tokenizer.approximate, true);
    assert.strictEqual(loaded.problem, `No CLIP tokenizer (vocab.json + merges.txt) found; token counts are estimates. Looked in: ${looked.join('; ')}`);
  });

  it('a snapshot that is a link to the files is used', async () => {
    const files = new MemoryFileSystem();
    files.writeFile('/blobs/clip/vocab.json', vocab);
    files.writeFile('/blobs/clip/merges.txt', merges);
    files.symlink(`${SNAPSHOTS}/linked`, '/blobs/clip');
    assert.deepStrictEqual(await findTokenizerFiles(files, { home: HOME }), {
      vocabPath: `${SNAPSHOTS}/linked/vocab.json`,
      mergesPath: `${SNAPSHOTS}/linked/merges.txt`,
      source: `Hugging Face cache (${SNAPSHOTS}/linked)`,
    });
  });

  it('a relative folder and one of slashes only are shown without trailing slashes', async () => {
    assert.deepStrictEqual(await findTokenizerFiles(new MemoryFileSystem(), { tokenizerPath: 'tok/' }), { missing: ['tok (no vocab.json or merges.txt)'] });
    assert.deepStrictEqual(await findTokenizerFiles(new MemoryFileSystem(), { tokenizerPath: '//' }), { missing: ['/ (no vocab.json or merges.txt)'] });
  });
});
