import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCliProcess } from './cliProcess';

describe('sd-prompt with a closed or full standard output', function () {
  this.timeout(30000);
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-output-'));
    file = path.join(dir, 'w.prompt');
    fs.writeFileSync(file, '<lora:x:1.5>'); // one warning, exit 0
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('| head -c1: the reader closes the pipe after the first bytes; the CLI ends quietly with its own exit code', async () => {
    // 3000 warning lines (~300 KB) overflow the pipe's buffer, so most writes come after the close.
    let first = '';
    const r = await runCliProcess(['check', ...Array<string>(3000).fill(file)], {
      onStart: (child) =>
        child.stdout!.once('data', (d) => {
          first = String(d).slice(0, 1);
          child.stdout!.destroy();
        }),
    });
    assert.deepStrictEqual([r.code, r.signal, r.stderr, first], [0, null, '', file[0]]);
  });

  it('standard output on a full disk (/dev/full): one line saying the output is incomplete, exit 1, no stack', async function () {
    if (!fs.existsSync('/dev/full')) this.skip();
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = await runCliProcess(['check', file], { stdio: ['ignore', full, 'pipe'] });
      assert.deepStrictEqual([r.code, r.stderr], [1, 'sd-prompt: cannot write to standard output: no space left on device (ENOSPC); the output is incomplete\n']);
    } finally {
      fs.closeSync(full);
    }
  });
});
