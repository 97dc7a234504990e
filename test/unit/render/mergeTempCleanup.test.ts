import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { once } from 'events';
import { removeStaleMerges } from '../../../server/src/render/merge/mergedModelFiles';

/**
 * Ctrl-C, SIGTERM or SIGHUP during a merge left `sd-prompt-merge-…/lora-patched.bin` (up to 1 GB each)
 * in the temp folder until a renderer an hour later found it stale. Now the process removes its own.
 */
describe('merge temporary files when the process ends', function () {
  this.timeout(30000);
  let tmp: string;
  let model: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-merge-temp-'));
    model = path.join(tmp, 'model.onnx');
    fs.writeFileSync(model, '');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Starts the child, waits until its merge has written the temporary file, and returns it with that folder. */
  async function childMidMerge(mode: 'signal' | 'exit') {
    const child = spawn(process.execPath, [path.join(__dirname, 'mergeTempChild.js'), mode, model], {
      env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (out += d));
    await once(child.stdout!, 'data');
    const folder = out.trim();
    return { child, folder, exited };
  }

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${signal} mid-merge: the temporary folder is removed and the process ends by ${signal}`, async function () {
      if (process.platform === 'win32') this.skip();
      const { child, folder, exited } = await childMidMerge('signal');
      assert.match(path.basename(folder), new RegExp(`^sd-prompt-merge-${child.pid}-`));
      assert.ok(fs.existsSync(path.join(folder, 'lora-patched.bin')), 'the merge wrote its file');
      child.kill(signal);
      assert.deepStrictEqual(await exited, [null, signal]);
      assert.deepStrictEqual(fs.readdirSync(tmp), ['model.onnx']);
    });
  }

  it('process.exit mid-merge: the temporary folder is removed and the exit code kept', async () => {
    const { folder, exited } = await childMidMerge('exit');
    assert.ok(folder.length > 0);
    assert.deepStrictEqual(await exited, [3, null]);
    assert.deepStrictEqual(fs.readdirSync(tmp), ['model.onnx']);
  });

  it("a later renderer removes a killed process's folder at once, and keeps a running one's", () => {
    // SIGKILL cannot be caught: what it leaves is removed by the next merge's sweep, not an hour later.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadFolder = path.join(tmp, `sd-prompt-merge-${dead.pid}-abcdef`);
    const running = path.join(tmp, `sd-prompt-merge-${process.pid}-ghijkl`);
    return once(dead, 'exit').then(() => {
      fs.mkdirSync(deadFolder);
      fs.mkdirSync(running);
      removeStaleMerges(tmp);
      assert.deepStrictEqual(fs.readdirSync(tmp).sort(), ['model.onnx', path.basename(running)]);
    });
  });
});
