import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { A1111Server, startA1111Server } from './servers/a1111Server';
import { startComfyServer } from './servers/comfyServer';

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

describe('sd-prompt render --backend', () => {
  let dir: string;
  let prompt: string;
  let server: A1111Server | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-backend-'));
    prompt = path.join(dir, 'castle.prompt');
    fs.writeFileSync(prompt, 'a castle\nNegative prompt: blurry\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 512x512');
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders on an A1111 server with the password from SD_PROMPT_SERVER_PASSWORD, writing FILE.png with its infotext', async () => {
    server = await startA1111Server({ auth: { user: 'me', password: 'pw' } });
    process.env.SD_PROMPT_SERVER_PASSWORD = 'pw';
    try {
      const r = await render(prompt, '--backend', 'a1111', '--server', server.url, '--user', 'me', '--steps', '2');
      assert.strictEqual(r.stderr, '');
      assert.strictEqual(r.code, 0);
      const out = path.join(dir, 'castle.png');
      assert.strictEqual(r.stdout, `${out}: 8x8, 2 steps of Euler a, seed 9, on a1111 at ${server.url}\n`);
      assert.strictEqual(readPngInfo(fs.readFileSync(out)).text.parameters, 'a castle\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 512x512');
    } finally {
      delete process.env.SD_PROMPT_SERVER_PASSWORD;
    }
  });

  it('prints the ComfyUI notes and a JSON summary', async () => {
    const comfy = await startComfyServer();
    try {
      const r = await render(prompt, '--backend', 'comfyui', '--server', comfy.url, '--json', '--out', path.join(dir, 'x.png'));
      assert.strictEqual(r.code, 0);
      assert.match(r.stderr, /sd-prompt: note: ComfyUI weighs \(x:1.2\) differently from A1111/);
      const summary = JSON.parse(r.stdout);
      assert.deepStrictEqual([summary.backend, summary.seed, summary.steps, summary.width], ['comfyui', 9, 3, 8]);
    } finally {
      await comfy.close();
    }
  });

  it('a server that refuses the connection or the credentials exits 1 with the reason and writes nothing', async () => {
    server = await startA1111Server({ auth: { user: 'me', password: 'pw' } });
    const r = await render(prompt, '--backend', 'a1111', '--server', server.url, '--user', 'me', '--password', 'nope');
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /render on a1111 failed: .* refused the credentials \(HTTP 401\)/);
    assert.deepStrictEqual(fs.readdirSync(dir), ['castle.prompt']);
  });

  it('bad backend options exit 2 with a message', async () => {
    const bad = await render(prompt, '--backend', 'invokeai', '--server', 'http://x');
    assert.strictEqual(bad.code, 2);
    assert.ok(bad.stderr.startsWith("sd-prompt: --backend takes one of local, a1111, comfyui, swarmui, not 'invokeai'\nusage:\n"), bad.stderr);
    assert.match((await render(prompt, '--backend', 'a1111')).stderr, /--backend a1111 needs --server URL/);
    assert.match((await render(prompt, '--server', 'http://x')).stderr, /--server needs --backend/);
  });
});
