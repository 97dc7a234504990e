import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { a1111ShortHash, legacyModelHash, sha256OfFile } from '../../../server/src/render/checkpoint/checkpointHashes';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { useTempFolder } from './tempFolder';

/** A1111's `Model hash:` values of a checkpoint, against sha256 computed here over the whole file in memory. */
describe('checkpoint hashes', () => {
  const root = useTempFolder('sd-ckpt-hash-');
  let file = '';
  let bytes = 0;
  before(() => {
    file = path.join(root(), 'model.safetensors');
    bytes = writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 5 }).bytes;
  });

  it('short hash: the first 10 hex digits of the whole file\'s sha256 (read in pieces)', async () => {
    // More than one 4 MiB read, so the streaming path joins pieces.
    assert.ok(bytes > 8 * 1024 * 1024, `${bytes} bytes`);
    const expected = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    assert.strictEqual(await sha256OfFile(file), expected);
    assert.strictEqual(await a1111ShortHash(file), expected.slice(0, 10));
    assert.match(await a1111ShortHash(file), /^[0-9a-f]{10}$/);
  });

  it('legacy model hash: sha256 of the 64 KiB at 1 MiB, first 8 hex digits', async () => {
    const expected = createHash('sha256').update(fs.readFileSync(file).subarray(0x100000, 0x110000)).digest('hex').slice(0, 8);
    assert.strictEqual(await legacyModelHash(file), expected);
  });

  it('legacy model hash of a file shorter than 1 MiB hashes nothing, as Python\'s seek and read do', async () => {
    const file = path.join(root(), 'small.safetensors');
    fs.writeFileSync(file, Buffer.alloc(1000, 7));
    assert.strictEqual(await legacyModelHash(file), 'e3b0c442');
    const partial = path.join(root(), 'partial.safetensors');
    fs.writeFileSync(partial, Buffer.alloc(0x100000 + 10, 1));
    assert.strictEqual(await legacyModelHash(partial), createHash('sha256').update(Buffer.alloc(10, 1)).digest('hex').slice(0, 8));
  });
});
