import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';

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

/** `sd-prompt render --webui DIR`: the checkpoint the file's generation data selects, or the one --model names. */
describe('sd-prompt render with a webui folder', function () {
  this.timeout(120000);
  let dir: string;
  const saved = process.env.XDG_CACHE_HOME;

  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-webui-')));
    process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
    fs.mkdirSync(path.join(dir, 'webui/models/Stable-diffusion/sub'), { recursive: true });
    writeCheckpoint(path.join(dir, 'webui/models/Stable-diffusion/sub/tiny.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 9 });
  });
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the file's Model: picks the checkpoint; --model NAME picks it too; a name the folder lacks is a usage error", async () => {
    const webui = path.join(dir, 'webui');
    const file = path.join(dir, 'a.prompt');
    fs.writeFileSync(file, 'a cat\nSteps: 1, Sampler: Euler, CFG scale: 5, Seed: 1, Size: 64x64, Model: tiny\n');
    const picked = await render(file, '--webui', webui, '--device', 'cpu');
    assert.strictEqual(picked.code, 0, picked.stderr);
    assert.match(picked.stderr, /^sd-prompt: Model selects sub\/tiny\.safetensors\n/);
    assert.match(readPngInfo(new Uint8Array(fs.readFileSync(path.join(dir, 'a.png')))).text.parameters, /Model hash: [0-9a-f]{10}, Model: tiny, /);

    const other = path.join(dir, 'b.prompt');
    fs.writeFileSync(other, 'a dog\nSteps: 1, Sampler: Euler, CFG scale: 5, Seed: 1, Size: 64x64\n');
    assert.strictEqual((await render(other, '--webui', webui, '--model', 'tiny', '--device', 'cpu')).code, 0);
    const missing = await render(other, '--webui', webui, '--model', 'nope', '--device', 'cpu');
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /--model nope: no such checkpoint in .*webui's models folder \(tiny\)/);
    const unselected = await render(other, '--webui', webui, '--device', 'cpu');
    assert.strictEqual(unselected.code, 2);
    assert.match(unselected.stderr, /b\.prompt's Model hash:\/Model: select no checkpoint in .*: give --model NAME/);
    assert.ok(!fs.existsSync(path.join(dir, 'b.png.tmp')));
  });
});
