import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, CheckpointErrorCode } from '../../../server/src/render/checkpoint/checkpointError';
import { assertUnchanged, openCheckpointFile } from '../../../server/src/render/checkpoint/checkpointFile';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { buildSafetensors } from '../library/build';
import { useTempFolder } from './tempFolder';

/** Opening a checkpoint: pickles refused unopened, and every way a safetensors file can be broken has its own message. */
describe('checkpoint file', () => {
  const root = useTempFolder('sd-ckpt-file-');

  function write(name: string, bytes: Uint8Array): string {
    const file = path.join(root(), name);
    fs.writeFileSync(file, bytes);
    return file;
  }

  /** A header whose JSON the test writes itself (to make it lie), followed by `dataBytes` zero bytes. */
  function rawHeader(name: string, header: unknown, dataBytes: number): string {
    const json = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    return write(name, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
  }

  async function rejection(file: string, code: CheckpointErrorCode): Promise<string> {
    try {
      await openCheckpointFile(file);
    } catch (reason) {
      assert.ok(reason instanceof CheckpointError, String(reason));
      assert.strictEqual(reason.code, code, reason.message);
      return reason.message;
    }
    assert.fail(`${file} opened`);
  }

  const PICKLE_ADVICE = 'sd-prompt never loads pickles (loading one runs code stored in it). Use the .safetensors version of this model (most model pages offer one).';

  it('refuses a .ckpt without reading it', async () => {
    const file = path.join(root(), 'missing-but-pickle.ckpt');
    assert.strictEqual(await rejection(file, 'pickle'), `${file} is a PyTorch pickle checkpoint: ${PICKLE_ADVICE}`);
  });

  it('refuses a torch.save zip or a raw pickle renamed to .safetensors', async () => {
    const zip = write('zip.safetensors', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
    const pickle = write('pickle.safetensors', Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05, 0x00, 0x00]));
    assert.strictEqual(await rejection(zip, 'pickle'), `${zip} is a PyTorch pickle checkpoint: ${PICKLE_ADVICE}`);
    assert.strictEqual(await rejection(pickle, 'pickle'), `${pickle} is a PyTorch pickle checkpoint: ${PICKLE_ADVICE}`);
  });

  it('a folder or a missing file', async () => {
    assert.strictEqual(await rejection(root(), 'not-a-file'), `${root()} is a folder, not a checkpoint file`);
    const missing = path.join(root(), 'nope.safetensors');
    assert.strictEqual(await rejection(missing, 'unreadable'), `cannot read ${missing}: ENOENT`);
  });

  it('a download cut inside the data says it is truncated', async () => {
    const whole = path.join(root(), 'whole.safetensors');
    const { bytes } = writeCheckpoint(whole, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    const cut = write('cut.safetensors', fs.readFileSync(whole).subarray(0, bytes - 1000));
    const message = await rejection(cut, 'truncated');
    assert.match(message, new RegExp(`is shorter than its header says \\(${bytes - 1000} bytes\\): tensor ".+" data_offsets \\[\\d+, \\d+\\] go beyond the data section \\(\\d+ bytes\\)\\. The download may have stopped early: download it again\\.$`));
  });

  it('a download cut inside the header', async () => {
    const whole = path.join(root(), 'whole2.safetensors');
    writeCheckpoint(whole, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    const cut = write('cut-header.safetensors', fs.readFileSync(whole).subarray(0, 100));
    assert.match(await rejection(cut, 'truncated'), /is truncated \(100 bytes\): header length \d+ goes beyond the end of the file \(100 bytes\)/);
    const tiny = write('tiny.safetensors', Buffer.from([1, 2, 3]));
    assert.match(await rejection(tiny, 'truncated'), /is truncated \(3 bytes\): file is 3 bytes, shorter than the 8-byte header length/);
  });

  it('headers that lie: overlapping ranges, a size that is not shape × dtype, a huge header length, not JSON', async () => {
    const overlap = rawHeader('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12);
    assert.strictEqual(await rejection(overlap, 'bad-header'), `${overlap} has a damaged safetensors header: tensors "a" [0, 8] and "b" [4, 12] overlap`);
    const size = rawHeader('size.safetensors', { a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, 8);
    assert.strictEqual(await rejection(size, 'bad-header'), `${size} has a damaged safetensors header: tensor "a" shape [3] × F16 is 6 bytes, but data_offsets [0, 8] span 8 bytes`);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(1n << 40n);
    const big = write('big.safetensors', huge);
    assert.strictEqual(await rejection(big, 'not-safetensors'), `${big} is not a safetensors file: header length 1099511627776 is above the 100000000-byte limit`);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(4n);
    const text = write('text.safetensors', Buffer.concat([prefix, Buffer.from('nope')]));
    assert.strictEqual(await rejection(text, 'bad-header'), `${text} has a damaged safetensors header: header is not valid JSON`);
  });

  it('reads only the header: tensors indexed by key with absolute data start', async () => {
    const file = write('small.safetensors', buildSafetensors({ note: 'x' }, [{ name: 'a', shape: [2, 3], dtype: 'F32' }]));
    const opened = await openCheckpointFile(file);
    assert.deepStrictEqual(opened.metadata, { note: 'x' });
    assert.deepStrictEqual(opened.tensors.get('a'), { name: 'a', dtype: 'F32', shape: [2, 3], begin: 0, end: 24 });
    assert.strictEqual(opened.dataStart, fs.statSync(file).size - 24);
  });

  it('notices the file changing on disk after it was opened', async () => {
    const file = path.join(root(), 'changing.safetensors');
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    const loaded = await loadCheckpoint(file);
    await assertUnchanged(loaded.file);
    fs.appendFileSync(file, Buffer.alloc(8));
    await assert.rejects(assertUnchanged(loaded.file), (e: CheckpointError) => {
      assert.strictEqual(e.code, 'changed-on-disk');
      assert.strictEqual(e.message, `${file} changed on disk while in use (size ${loaded.file.size} → ${loaded.file.size + 8} bytes): load it again`);
      return true;
    });
  });
});
