import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { writeCheckpoint, TINY_SD1_ARCHITECTURE } from '../../../server/src/render/testModel/generateCheckpoint';

async function models(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['models', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: () => assert.fail('models reads no prompt'),
    readStdin: () => assert.fail('models reads no prompt'),
  });
  return { code, stdout, stderr };
}

describe('sd-prompt models', function () {
  this.timeout(60000);
  let webui: string;
  let ckpt: string;
  before(() => {
    webui = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-models-'));
    const sd = path.join(webui, 'models/Stable-diffusion');
    fs.mkdirSync(path.join(sd, 'old'), { recursive: true });
    fs.mkdirSync(path.join(webui, 'models/VAE'), { recursive: true });
    ckpt = path.join(sd, 'tiny.safetensors');
    writeCheckpoint(ckpt, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 });
    fs.writeFileSync(path.join(sd, 'old/legacy.ckpt'), 'PK\x03\x04 a pickle');
    writeCheckpoint(path.join(webui, 'models/VAE/decoder_only.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F32', seed: 5, vaeDecoderOnly: true });
  });
  after(() => fs.rmSync(webui, { recursive: true, force: true }));

  it('--json lists each checkpoint and VAE with A1111 names, family, dtype, size and hashes', async () => {
    const r = await models('--webui', webui, '--json');
    assert.deepStrictEqual([r.code, r.stderr], [0, '']);
    const out = JSON.parse(r.stdout);
    const bytes = fs.readFileSync(ckpt);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const legacy = createHash('sha256').update(bytes.subarray(0x100000, 0x110000)).digest('hex').slice(0, 8);
    assert.deepStrictEqual(out.models[0], {
      kind: 'checkpoint',
      name: 'tiny.safetensors',
      nameForExtra: 'tiny',
      title: `tiny.safetensors [${sha256.slice(0, 10)}]`,
      path: ckpt,
      family: 'sd1',
      renderable: true,
      dtype: 'F16',
      size: bytes.length,
      legacyHash: legacy,
      shortHash: sha256.slice(0, 10),
      sha256,
    });
    assert.deepStrictEqual(
      out.models.map((m: { kind: string; name: string; renderable: boolean }) => [m.kind, m.name, m.renderable]),
      [
        ['checkpoint', 'tiny.safetensors', true],
        ['checkpoint', 'old/legacy.ckpt', false],
        ['vae', 'decoder_only.safetensors', true],
      ],
    );
    assert.match(out.models[1].problem, /is a Python pickle \(\.ckpt\), which can run code when opened: sd-prompt never opens one; use the \.safetensors version/);
  });

  it('text: one line per file; --no-hash leaves the whole-file hash out', async () => {
    const r = await models('--webui', webui, '--no-hash');
    assert.strictEqual(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.strictEqual(lines.length, 3);
    assert.match(lines[0], /^sd1\s+F16\s+\d+\.\d MB\s+[0-9a-f]{8}\s+tiny\.safetensors$/);
  });

  it('no webui folder, or one without models: a clear message', async () => {
    assert.deepStrictEqual(await models(), { code: 2, stdout: '', stderr: (await models()).stderr });
    assert.match((await models()).stderr, /models needs --webui DIR \(or SD_WEBUI_PATH\)/);
    assert.match((await models('--webui', '/no/such')).stderr, /--webui \/no\/such is not a folder/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-empty-'));
    const r = await models('--webui', empty);
    fs.rmSync(empty, { recursive: true });
    assert.deepStrictEqual([r.code, r.stderr], [1, `sd-prompt: ${empty} has no models/Stable-diffusion (or models/checkpoints) folder\n`]);
  });
});
