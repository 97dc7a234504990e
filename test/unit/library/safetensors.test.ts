import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import {
  SafetensorsCache,
  SafetensorsHeader,
  halfToNumber,
  isSafetensorsError,
  readSafetensorsHeader,
  readScalar,
  sha256OfData,
  shortHash,
} from '../../../server/src/service/library/safetensors';

import { FIXTURES, fixtureBytes } from '../fixtures';

/** A MemoryFileSystem holding one fixture at /f.safetensors. */
function fixtureFs(relative: string): MemoryFileSystem {
  const memory = new MemoryFileSystem();
  memory.writeFile('/f.safetensors', fixtureBytes(relative));
  return memory;
}

/** 8-byte little-endian length + header text + `dataLength` bytes of data (0, 1, 2, ...). */
function safetensorsBytes(header: string | object, dataLength = 0, declaredLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 0; i < dataLength; i++) out[8 + json.length + i] = i & 0xff;
  return out;
}

async function readBuilt(bytes: Uint8Array) {
  const memory = new MemoryFileSystem();
  memory.writeFile('/x.safetensors', bytes);
  return readSafetensorsHeader(memory, '/x.safetensors');
}

async function errorOf(bytes: Uint8Array): Promise<string> {
  const result = await readBuilt(bytes);
  assert.ok(isSafetensorsError(result), `expected an error, got ${JSON.stringify(result)}`);
  return result.error;
}

async function headerOf(memory: MemoryFileSystem, file = '/f.safetensors'): Promise<SafetensorsHeader> {
  const result = await readSafetensorsHeader(memory, file);
  if (isSafetensorsError(result)) throw new Error(result.error);
  return result;
}

interface ExpectedFile {
  size: number;
  header_len: number;
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number]; values: number[] }>;
}

describe('safetensors header', () => {
  describe('official samples (headers not 8-byte aligned)', () => {
    const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'safetensors/expected_values.json'), 'utf8')) as {
      files: Record<string, ExpectedFile>;
    };
    for (const [name, want] of Object.entries(expected.files)) {
      it(`${name}: header facts match expected_values.json`, async () => {
        const memory = fixtureFs(`safetensors/${name}`);
        const header = await headerOf(memory);
        const wantTensors = Object.entries(want.tensors)
          .map(([tensorName, t]) => ({ name: tensorName, dtype: t.dtype, shape: t.shape, begin: t.data_offsets[0], end: t.data_offsets[1] }))
          .sort((a, b) => a.begin - b.begin);
        assert.deepStrictEqual(header, {
          headerLength: want.header_len,
          dataStart: 8 + want.header_len,
          dataLength: want.size - 8 - want.header_len,
          metadata: want.metadata,
          tensors: wantTensors,
        });
        // Only the length prefix and the header were read, never the data.
        assert.deepStrictEqual(memory.readLog, [
          { path: '/f.safetensors', offset: 0, length: 8 },
          { path: '/f.safetensors', offset: 8, length: want.header_len },
        ]);
      });
    }

    it('overall.safetensors: exact layout', async () => {
      const header = await headerOf(fixtureFs('safetensors/overall.safetensors'));
      assert.strictEqual(header.headerLength, 526);
      assert.strictEqual(header.dataStart, 534);
      assert.strictEqual(header.dataLength, 168);
      assert.deepStrictEqual(
        header.tensors.map((t) => `${t.name}:${t.dtype}[${t.shape}]@${t.begin}-${t.end}`),
        ['B:U8[6]@0-6', 'H:U16[6]@6-18', 'I:U32[6]@18-42', 'b:I8[6]@42-48', 'd:F64[6]@48-96', 'e:F16[6]@96-108', 'f:F32[6]@108-132', 'h:I16[6]@132-144', 'i:I32[6]@144-168'],
      );
    });
  });

  describe('real LoRA files', () => {
    it('LyCORIS LoKr: 1750 tensors, kohya metadata', async () => {
      const header = await headerOf(fixtureFs('lora/lycoris/smart_falcon_16_lokr.safetensors'));
      assert.strictEqual(header.headerLength, 247923);
      assert.strictEqual(header.dataLength, 1611708);
      assert.strictEqual(header.tensors.length, 1750);
      assert.strictEqual(header.metadata['ss_network_dim'], '16');
      assert.strictEqual(header.metadata['ss_network_alpha'], '16.0');
      assert.strictEqual(header.metadata['ss_v2'], 'False');
      assert.strictEqual(header.metadata['ss_base_model_version'], undefined);
      assert.deepStrictEqual(header.tensors[0], { name: 'lora_te_text_model_encoder_layers_0_mlp_fc1.alpha', dtype: 'F16', shape: [], begin: 0, end: 2 });
    });

    it('cloneofsimo mixed F32/F16 file', async () => {
      const header = await headerOf(fixtureFs('lora/cloneofsimo/lora_disney_inpainting.safetensors'));
      assert.strictEqual(header.tensors.length, 386);
      assert.deepStrictEqual([...new Set(header.tensors.map((t) => t.dtype))], ['F32', 'F16']);
      assert.strictEqual(header.metadata['<s1>'], '<embed>');
    });

    it('textual-inversion embedding', async () => {
      const header = await headerOf(fixtureFs('embeddings/invokeai_test_embedding.safetensors'));
      assert.deepStrictEqual(header, {
        headerLength: 72,
        dataStart: 80,
        dataLength: 15360,
        metadata: {},
        tensors: [{ name: 'emb_params', dtype: 'F32', shape: [5, 768], begin: 0, end: 15360 }],
      });
    });
  });

  describe('malformed headers: exact reasons', () => {
    it('file shorter than 8 bytes', async () => {
      assert.strictEqual(await errorOf(new Uint8Array(5)), 'file is 5 bytes, shorter than the 8-byte header length');
      assert.strictEqual(await errorOf(new Uint8Array(0)), 'file is 0 bytes, shorter than the 8-byte header length');
    });

    it('header length beyond the file', async () => {
      assert.strictEqual(await errorOf(safetensorsBytes('{}', 0, 1000n)), 'header length 1000 goes beyond the end of the file (10 bytes)');
    });

    it('header length above 100 MB (checked before it is trusted as a Number)', async () => {
      assert.strictEqual(await errorOf(safetensorsBytes('{}', 0, 100_000_001n)), 'header length 100000001 is above the 100000000-byte limit');
      assert.strictEqual(await errorOf(safetensorsBytes('{}', 0, 2n ** 64n - 1n)), 'header length 18446744073709551615 is above the 100000000-byte limit');
    });

    it('invalid JSON, invalid UTF-8, not an object', async () => {
      assert.strictEqual(await errorOf(safetensorsBytes('{"a":')), 'header is not valid JSON');
      const badUtf8 = safetensorsBytes('{"\u00e9":1}');
      badUtf8[10] = 0xff;
      assert.strictEqual(await errorOf(badUtf8), 'header is not valid UTF-8');
      assert.strictEqual(await errorOf(safetensorsBytes('[1,2]')), 'header is not a JSON object (it is an array)');
      assert.strictEqual(await errorOf(safetensorsBytes('null')), 'header is not a JSON object (it is null)');
      assert.strictEqual(await errorOf(safetensorsBytes('"s"')), 'header is not a JSON object (it is a string)');
    });

    it('__metadata__ not a string → string map', async () => {
      assert.strictEqual(await errorOf(safetensorsBytes({ __metadata__: { epochs: 10 } })), '__metadata__ is not a map of strings to strings ("epochs" is a number)');
      assert.strictEqual(await errorOf(safetensorsBytes({ __metadata__: { tags: { a: 1 } } })), '__metadata__ is not a map of strings to strings ("tags" is an object)');
      assert.strictEqual(await errorOf(safetensorsBytes({ __metadata__: 'x' })), '__metadata__ is not a map of strings to strings');
    });

    it('unknown or missing dtype', async () => {
      assert.strictEqual(await errorOf(safetensorsBytes({ t: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16)), 'tensor "t" has unknown dtype "F128"');
      assert.strictEqual(await errorOf(safetensorsBytes({ t: { shape: [1], data_offsets: [0, 4] } }, 4)), 'tensor "t" has unknown dtype null');
      assert.strictEqual(await errorOf(safetensorsBytes({ t: 7 }, 4)), 'tensor "t" is not an object');
    });

    it('shape not a list of non-negative integers', async () => {
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8)),
        'tensor "t" has a shape that is not a list of non-negative integers: [2,-1]',
      );
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4)),
        'tensor "t" has a shape that is not a list of non-negative integers: [1.5]',
      );
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, 8)),
        'tensor "t" has a shape that is not a list of non-negative integers: "2"',
      );
    });

    it('data_offsets malformed', async () => {
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'U8', shape: [4], data_offsets: [8, 4] } }, 8)),
        'tensor "t" has data_offsets that are not [begin, end] with 0 <= begin <= end: [8,4]',
      );
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'U8', shape: [4], data_offsets: [0] } }, 8)),
        'tensor "t" has data_offsets that are not [begin, end] with 0 <= begin <= end: [0]',
      );
    });

    it('shape × dtype size ≠ end − begin', async () => {
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 24)),
        'tensor "t" shape [2, 3] × F32 is 24 bytes, but data_offsets [0, 20] span 20 bytes',
      );
      // Packed 4-bit floats: 3 elements are 12 bits, which no byte range can hold.
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, 2)),
        'tensor "t" shape [3] × F4 is 12 bits, but data_offsets [0, 2] span 2 bytes',
      );
    });

    it('offsets beyond the data section', async () => {
      assert.strictEqual(
        await errorOf(safetensorsBytes({ t: { dtype: 'F32', shape: [6], data_offsets: [0, 24] } }, 16)),
        'tensor "t" data_offsets [0, 24] go beyond the data section (16 bytes)',
      );
    });

    it('overlapping tensors (found after sorting by begin)', async () => {
      const header = { b: { dtype: 'U8', shape: [8], data_offsets: [4, 12] }, a: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } };
      assert.strictEqual(await errorOf(safetensorsBytes(header, 12)), 'tensors "a" [0, 8] and "b" [4, 12] overlap');
    });

    it('missing file, folder, unreadable file: the reason, never a throw', async () => {
      const memory = new MemoryFileSystem();
      memory.mkdir('/dir');
      memory.writeFile('/locked.safetensors', safetensorsBytes('{}'));
      memory.setUnreadable('/locked.safetensors');
      assert.deepStrictEqual(await readSafetensorsHeader(memory, '/nope.safetensors'), {
        error: "cannot read the file: ENOENT: no such file or directory, stat '/nope.safetensors'",
      });
      assert.deepStrictEqual(await readSafetensorsHeader(memory, '/dir'), { error: 'not a file' });
      assert.deepStrictEqual(await readSafetensorsHeader(memory, '/locked.safetensors'), {
        error: "cannot read the file: EACCES: permission denied, read '/locked.safetensors'",
      });
    });
  });

  describe('valid edge cases', () => {
    it('empty header, no metadata, no tensors', async () => {
      assert.deepStrictEqual(await readBuilt(safetensorsBytes('{}')), { headerLength: 2, dataStart: 10, dataLength: 0, metadata: {}, tensors: [] });
    });

    it('every dtype of the spec, packed sub-byte floats, zero-size tensors, gaps between tensors', async () => {
      const header = {
        f4: { dtype: 'F4', shape: [4], data_offsets: [0, 2] },
        f6: { dtype: 'F6_E2M3', shape: [4], data_offsets: [2, 5] },
        e8: { dtype: 'F8_E8M0', shape: [1], data_offsets: [5, 6] },
        c64: { dtype: 'C64', shape: [1], data_offsets: [8, 16] },
        empty: { dtype: 'F32', shape: [0, 3], data_offsets: [16, 16] },
        flag: { dtype: 'BOOL', shape: [], data_offsets: [16, 17] },
      };
      const result = await readBuilt(safetensorsBytes(header, 20));
      assert.ok(!isSafetensorsError(result), JSON.stringify(result));
      assert.deepStrictEqual(
        result.tensors.map((t) => t.name),
        ['f4', 'f6', 'e8', 'c64', 'empty', 'flag'],
      );
      assert.strictEqual(result.dataLength, 20);
    });
  });
});

describe('SafetensorsCache', () => {
  it('reuses a header until the size or mtime changes', async () => {
    const memory = new MemoryFileSystem();
    const bytes = fixtureBytes('safetensors/f.safetensors');
    memory.writeFile('/f.safetensors', bytes, { mtimeMs: 1000 });
    const cache = new SafetensorsCache();
    const first = await cache.read(memory, '/f.safetensors');
    assert.strictEqual(memory.readLog.length, 2);
    const second = await cache.read(memory, '/f.safetensors');
    assert.strictEqual(memory.readLog.length, 2, 'second read must not call readBytes');
    assert.strictEqual(second, first);

    memory.writeFile('/f.safetensors', bytes, { mtimeMs: 2000 });
    await cache.read(memory, '/f.safetensors');
    assert.strictEqual(memory.readLog.length, 4, 'mtime change re-reads');

    memory.writeFile('/f.safetensors', fixtureBytes('safetensors/d.safetensors'), { mtimeMs: 2000 });
    const changed = await cache.read(memory, '/f.safetensors');
    assert.strictEqual(memory.readLog.length, 6, 'size change re-reads');
    assert.ok(!isSafetensorsError(changed));
    assert.deepStrictEqual(changed.tensors.map((t) => t.dtype), ['F64']);
  });

  it('caches a bad file’s error too, and forgets a vanished file', async () => {
    const memory = new MemoryFileSystem();
    memory.writeFile('/bad.safetensors', new Uint8Array(3), { mtimeMs: 5 });
    const cache = new SafetensorsCache();
    assert.deepStrictEqual(await cache.read(memory, '/bad.safetensors'), { error: 'file is 3 bytes, shorter than the 8-byte header length' });
    assert.deepStrictEqual(await cache.read(memory, '/bad.safetensors'), { error: 'file is 3 bytes, shorter than the 8-byte header length' });
    assert.strictEqual(cache.size, 1);
    memory.remove('/bad.safetensors');
    assert.deepStrictEqual(await cache.read(memory, '/bad.safetensors'), {
      error: "cannot read the file: ENOENT: no such file or directory, stat '/bad.safetensors'",
    });
    assert.strictEqual(cache.size, 0);
  });
});

describe('readScalar', () => {
  /** One scalar of each float dtype, plus tensors readScalar must refuse. */
  function scalarFile() {
    const header = {
      half: { dtype: 'F16', shape: [], data_offsets: [0, 2] },
      brain: { dtype: 'BF16', shape: [1], data_offsets: [2, 4] },
      single: { dtype: 'F32', shape: [], data_offsets: [4, 8] },
      double: { dtype: 'F64', shape: [1, 1], data_offsets: [8, 16] },
      vector: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
      integer: { dtype: 'I32', shape: [], data_offsets: [24, 28] },
    };
    const bytes = safetensorsBytes(header, 28);
    const dataStart = bytes.length - 28;
    const view = new DataView(bytes.buffer, dataStart);
    view.setUint16(0, 0x4c00, true); // F16 16.0
    view.setUint16(2, 0x3fc0, true); // BF16 1.5
    view.setFloat32(4, 0.25, true);
    view.setFloat64(8, -8, true);
    view.setInt32(24, 3, true);
    const memory = new MemoryFileSystem();
    memory.writeFile('/s.safetensors', bytes);
    return memory;
  }

  it('reads F16, BF16, F32, F64 one-element tensors', async () => {
    const memory = scalarFile();
    const header = await headerOf(memory, '/s.safetensors');
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'half'), 16);
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'brain'), 1.5);
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'single'), 0.25);
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'double'), -8);
  });

  it('refuses vectors, integers, missing names, and unreadable files', async () => {
    const memory = scalarFile();
    const header = await headerOf(memory, '/s.safetensors');
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'vector'), undefined);
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'integer'), undefined);
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'nope'), undefined);
    memory.setUnreadable('/s.safetensors');
    assert.strictEqual(await readScalar(memory, '/s.safetensors', header, 'half'), undefined);
  });

  it('reads the real LoKr files’ first .alpha (F16)', async () => {
    for (const [file, alpha] of [['smart_falcon_4_lokr', 4], ['smart_falcon_8_lokr', 8], ['smart_falcon_16_lokr', 16]] as const) {
      const memory = fixtureFs(`lora/lycoris/${file}.safetensors`);
      const header = await headerOf(memory);
      assert.strictEqual(await readScalar(memory, '/f.safetensors', header, 'lora_te_text_model_encoder_layers_0_mlp_fc1.alpha'), alpha);
    }
  });

  it('halfToNumber: subnormal, infinity, NaN, negative zero', () => {
    assert.strictEqual(halfToNumber(0x0001), 2 ** -24);
    assert.strictEqual(halfToNumber(0x7c00), Infinity);
    assert.strictEqual(halfToNumber(0xfc00), -Infinity);
    assert.ok(Number.isNaN(halfToNumber(0x7e00)));
    assert.ok(Object.is(halfToNumber(0x8000), -0));
    assert.strictEqual(halfToNumber(0xc000), -2);
  });
});

describe('shortHash', () => {
  // sha256 of each LoKr file's data section, computed once with Python's hashlib; the files'
  // sshs_model_hash holds the same full digest.
  const LYCORIS: ReadonlyArray<[string, string]> = [
    ['smart_falcon_4_lokr', '150ef207aad02214f69756f53c3fc56efacdf6c79e32dd76e5fcbcf6c6a5350f'],
    ['smart_falcon_8_lokr', '1383de39158354915efccfc6b03876ba53e41725c6d20cf996b9529b2831de42'],
    ['smart_falcon_16_lokr', '51a16c07bdd8e550c2ea36095a2c25a261a029a7672ad2a26735564c3c3e7ad8'],
  ];

  for (const [file, sha] of LYCORIS) {
    it(`${file}: sshs_model_hash is used without reading data, and equals the computed hash`, async () => {
      const memory = fixtureFs(`lora/lycoris/${file}.safetensors`);
      const header = await headerOf(memory);
      assert.strictEqual(header.metadata['sshs_model_hash'], sha);
      const reads = memory.readLog.length;
      assert.strictEqual(await shortHash(memory, '/f.safetensors', header), sha.slice(0, 12));
      assert.strictEqual(memory.readLog.length, reads);
      const withoutStoredHash = { ...header, metadata: {} };
      assert.strictEqual(await shortHash(memory, '/f.safetensors', withoutStoredHash), sha.slice(0, 12));
      assert.strictEqual(await sha256OfData(memory, '/f.safetensors', header), sha);
    });
  }

  it('hashes in 1 MiB chunks from the end of the header', async () => {
    const memory = fixtureFs('lora/lycoris/smart_falcon_16_lokr.safetensors');
    const header = await headerOf(memory);
    memory.readLog.length = 0;
    await shortHash(memory, '/f.safetensors', { ...header, metadata: {} });
    assert.deepStrictEqual(memory.readLog, [
      { path: '/f.safetensors', offset: 247931, length: 1048576 },
      { path: '/f.safetensors', offset: 247931 + 1048576, length: 1611708 - 1048576 },
    ]);
  });

  it('official samples and files without sshs_model_hash (hashlib values)', async () => {
    const cases: Array<[string, string]> = [
      ['safetensors/f.safetensors', '88d66898e826'],
      ['safetensors/overall.safetensors', '27d6b55c98b9'],
      ['lora/cloneofsimo/analog_svd_rank4.safetensors', 'c1cb0e15d1f4'],
      ['lora/diffusers/catundchat_sd15_attnprocs_f32.safetensors', 'ddd48cd74131'],
      ['embeddings/invokeai_test_embedding.safetensors', '1a59af659936'],
    ];
    for (const [file, want] of cases) {
      const memory = fixtureFs(file);
      assert.strictEqual(await shortHash(memory, '/f.safetensors', await headerOf(memory)), want, file);
    }
  });

  it('a file cut short after its header was read: sha256OfData returns the reason, shortHash rejects', async () => {
    const memory = fixtureFs('safetensors/overall.safetensors');
    const header = await headerOf(memory);
    memory.writeFile('/f.safetensors', fixtureBytes('safetensors/overall.safetensors').slice(0, 600));
    assert.deepStrictEqual(await sha256OfData(memory, '/f.safetensors', header), { error: 'file ended at 600 bytes while hashing (expected 702)' });
    await assert.rejects(shortHash(memory, '/f.safetensors', header), { message: 'cannot hash /f.safetensors: file ended at 600 bytes while hashing (expected 702)' });
  });
});
