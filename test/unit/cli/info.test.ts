import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { kohyaSd15, peftSd15 } from '../library/build';

/** Runs `sd-prompt info` in this process (it reads real files). */
async function info(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['info', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: () => assert.fail('info reads no prompt'),
    readStdin: () => assert.fail('info reads no prompt'),
  });
  return { code, stdout, stderr };
}

/** A1111's short hash computed here independently: sha256 of everything after the header. */
function dataHash(bytes: Uint8Array): string {
  const headerLength = Number(Buffer.from(bytes).readBigUInt64LE(0));
  return createHash('sha256').update(bytes.subarray(8 + headerLength)).digest('hex').slice(0, 12);
}

describe('sd-prompt info FILE.safetensors', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-info-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the card as JSON: name, alias, kind, key style, rank, alpha, base model, trigger words, short hash, metadata', async () => {
    const bytes = kohyaSd15({ ss_output_name: 'catStyle', ss_tag_frequency: '{"10_cat": {"cat ears": 5, "solo": 3}}', ss_sd_model_name: 'v1-5-pruned.safetensors' });
    const file = path.join(dir, 'catStyle_v2.safetensors');
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(dir, 'catStyle_v2.json'), JSON.stringify({ 'activation text': 'catstyle', 'preferred weight': 0.7 }));
    const r = await info(file);
    assert.deepStrictEqual([r.code, r.stderr], [0, '']);
    assert.deepStrictEqual(JSON.parse(r.stdout), {
      name: 'catStyle_v2',
      alias: 'catStyle',
      kind: 'LoRA',
      keyStyle: 'kohya',
      rank: 4,
      alpha: 2,
      baseModel: 'SD1',
      triggerWords: [
        { word: 'catstyle', source: 'activation text' },
        { word: 'cat ears', source: 'tag frequency' },
        { word: 'solo', source: 'tag frequency' },
      ],
      shortHash: dataHash(bytes),
      baseModelSource: 'ss_base_model_version',
      trainingModel: 'v1-5-pruned.safetensors',
      preferredWeight: 0.7,
      tensorCount: 3,
      warnings: [],
      metadata: {
        ss_base_model_version: 'sd_v1',
        ss_network_dim: '4',
        ss_network_alpha: '2',
        ss_output_name: 'catStyle',
        ss_tag_frequency: { '10_cat': { 'cat ears': 5, solo: 3 } },
        ss_sd_model_name: 'v1-5-pruned.safetensors',
      },
    });
  });

  it('without ss_output_name the alias is the name (as A1111); a stored sshs_model_hash is the short hash; no alpha is null', async () => {
    const file = path.join(dir, 'peft.safetensors');
    fs.writeFileSync(file, peftSd15());
    const peft = JSON.parse((await info(file)).stdout);
    assert.deepStrictEqual([peft.name, peft.alias, peft.keyStyle, peft.alpha, peft.metadata], ['peft', 'peft', 'peft', null, {}]);
    assert.match(peft.warnings[0], /^PEFT\/diffusers keys/);
    const hashed = path.join(dir, 'hashed.safetensors');
    fs.writeFileSync(hashed, kohyaSd15({ sshs_model_hash: 'ABCDEF0123456789ABCDEF' }));
    assert.strictEqual(JSON.parse((await info(hashed)).stdout).shortHash, 'abcdef012345');
  });

  it('a pickle is refused by its extension, never opened, exit 1', async () => {
    const file = path.join(dir, 'old.ckpt');
    fs.writeFileSync(file, 'not read');
    const r = await info(file);
    assert.deepStrictEqual(
      [r.code, r.stdout, r.stderr],
      [1, '', `sd-prompt: ${file} is a Python pickle (.ckpt): opening it can run any code in it, so sd-prompt never does. Use a .safetensors version of it.\n`],
    );
  });

  it('hostile or broken safetensors files: a clear error naming the file, exit 1', async () => {
    const cases: [string, Uint8Array, string][] = [
      ['huge-header.safetensors', Buffer.alloc(16, 0xff), 'header length 18446744073709551615 is above the 100000000-byte limit'],
      ['zip.safetensors', Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00'), 'header length 85966670672 is above the 100000000-byte limit'],
      ['empty.safetensors', new Uint8Array(0), 'file is 0 bytes, shorter than the 8-byte header length'],
      ['truncated.safetensors', kohyaSd15().subarray(0, 100), `header length ${Buffer.from(kohyaSd15()).readBigUInt64LE(0)} goes beyond the end of the file (100 bytes)`],
    ];
    for (const [name, bytes, why] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      const r = await info(file);
      assert.deepStrictEqual([r.code, r.stdout, r.stderr], [1, '', `sd-prompt: ${file} is not a readable safetensors file: ${why}\n`], name);
    }
  });

  it('a missing file or a folder is unreadable input (exit 2); bad usage exits 2', async () => {
    const missing = await info(path.join(dir, 'nope.safetensors'));
    assert.deepStrictEqual([missing.code, missing.stderr], [2, `sd-prompt: cannot read ${path.join(dir, 'nope.safetensors')}: no such file\n`]);
    assert.deepStrictEqual([(await info(dir)).code, (await info(dir)).stderr], [2, `sd-prompt: cannot read ${dir}: is a folder\n`]);
    assert.match((await info()).stderr, /^sd-prompt: info needs a FILE\.safetensors\n/);
    assert.match((await info('a.safetensors', 'b.safetensors')).stderr, /^sd-prompt: info takes one FILE\.safetensors\n/);
    assert.strictEqual((await info('--json', 'a.safetensors')).code, 2);
  });
});
