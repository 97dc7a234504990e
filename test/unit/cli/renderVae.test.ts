import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { parseRenderArgs } from '../../../server/src/cli/render';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { rewriteHeader } from '../checkpoint/rewriteHeader';

async function render(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['render', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => fs.readFileSync(p, 'utf8'),
    readStdin: () => assert.fail('render reads a file'),
  });
  return { code, stdout, stderr };
}

/** `sd-prompt render --vae FILE|NAME|None --clip-skip N`, and the file's `VAE:` looked up in `--webui`'s models/VAE. */
describe('sd-prompt render: VAE and clip skip', function () {
  this.timeout(180000);
  let dir: string;
  let webui: string;
  let vae: string;
  const saved = process.env.XDG_CACHE_HOME;
  const parameters = (file: string) => readPngInfo(new Uint8Array(fs.readFileSync(file))).text.parameters;

  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-vae-')));
    process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
    webui = path.join(dir, 'webui');
    writeCheckpoint(path.join(webui, 'models/Stable-diffusion/tiny.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 9 });
    // A VAE file with a checkpoint's first_stage_model.* keys (A1111 strips the prefix when it loads one).
    vae = path.join(webui, 'models/VAE/other.safetensors');
    writeCheckpoint(vae, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 4 });
    rewriteHeader(vae, (header) => Object.fromEntries(Object.entries(header).filter(([key]) => key.startsWith('first_stage_model.'))));
  });
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parses --clip-skip (a whole number of at least 1) and --vae', () => {
    const o = parseRenderArgs(['a.prompt', '--model', 'm.safetensors', '--clip-skip', '2', '--vae', 'None']);
    assert.deepStrictEqual([o.clipSkip, o.vae], [2, 'None']);
    assert.throws(() => parseRenderArgs(['a.prompt', '--model', 'm', '--clip-skip', '0']), /--clip-skip takes a whole number of at least 1, not '0'/);
    assert.throws(() => parseRenderArgs(['a.prompt', '--model', 'm', '--vae']), /--vae needs a value/);
  });

  it("the file's VAE: picks models/VAE's file; --vae None keeps the checkpoint's own; an unknown name says what A1111 does", async () => {
    const file = path.join(dir, 'a.prompt');
    fs.writeFileSync(file, 'a cat\nSteps: 1, Sampler: Euler, CFG scale: 5, Seed: 1, Size: 64x64, Model: tiny, VAE: other.safetensors\n');
    const picked = await render(file, '--webui', webui, '--device', 'cpu', '--clip-skip', '2');
    assert.strictEqual(picked.code, 0, picked.stderr);
    assert.match(picked.stderr, /sd-prompt: VAE selects the VAE other\.safetensors\n/);
    assert.match(parameters(path.join(dir, 'a.png')), /, Model: tiny, VAE hash: [0-9a-f]{10}, VAE: other\.safetensors, Clip skip: 2, Version: sd-prompt$/);

    const none = await render(file, '--webui', webui, '--device', 'cpu', '--vae', 'None', '--out', path.join(dir, 'none.png'));
    assert.strictEqual(none.code, 0, none.stderr);
    assert.match(parameters(path.join(dir, 'none.png')), /, Model: tiny, Version: sd-prompt$/);

    fs.writeFileSync(file, 'a cat\nSteps: 1, Sampler: Euler, CFG scale: 5, Seed: 1, Size: 64x64, Model: tiny, VAE: missing.safetensors\n');
    const unknown = await render(file, '--webui', webui, '--device', 'cpu', '--out', path.join(dir, 'unknown.png'));
    assert.strictEqual(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stderr, /VAE missing\.safetensors: no such VAE in .*models\/VAE; A1111 then decodes with the checkpoint's own VAE, and so does this render\n/);
    assert.match(parameters(path.join(dir, 'unknown.png')), /, Model: tiny, Version: sd-prompt$/);
  });

  it('--vae FILE without a webui; a --vae name without one is a usage error', async () => {
    const file = path.join(dir, 'b.prompt');
    fs.writeFileSync(file, 'a cat\nSteps: 1, Sampler: Euler, CFG scale: 5, Seed: 1, Size: 64x64\n');
    const model = path.join(webui, 'models/Stable-diffusion/tiny.safetensors');
    const byFile = await render(file, '--model', model, '--vae', vae, '--device', 'cpu');
    assert.strictEqual(byFile.code, 0, byFile.stderr);
    assert.match(parameters(path.join(dir, 'b.png')), /, VAE: other\.safetensors, /);
    const byName = await render(file, '--model', model, '--vae', 'other.safetensors', '--device', 'cpu');
    assert.strictEqual(byName.code, 2);
    assert.match(byName.stderr, /--vae other\.safetensors: no such file \(a VAE's name is looked up in --webui DIR's models\/VAE\)/);
  });
});
