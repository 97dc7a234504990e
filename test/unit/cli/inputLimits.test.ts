import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MAX_INPUT_BYTES, readTextBounded } from '../../../server/src/cli/boundedRead';
import { runCliProcess } from './cliProcess';

describe('sd-prompt input cap (a prompt is read up to 1 MiB, never without bound)', function () {
  this.timeout(30000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-input-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const capMessage = (label: string, size: string) =>
    `sd-prompt: ${label} is ${size} 1 MiB, the most sd-prompt reads from a prompt: a real prompt is a few kilobytes (is this the right file?)\n`;

  it('explain of a file over the cap: exit 2 with the file name and its size, no abort', async () => {
    const file = path.join(dir, 'huge.prompt');
    fs.writeFileSync(file, 'a, '.repeat(2_000_000));
    const r = await runCliProcess(['explain', file]);
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [2, '', capMessage(file, '6000000 bytes, over')]);
  });

  it('tokens of an endless standard input stops reading at the cap', async () => {
    const r = await runCliProcess(['tokens', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      onStart: (child) => {
        // One long line, written until the CLI stops reading.
        const line = Buffer.alloc(64 * 1024, 'word ');
        const pump = () => {
          while (child.stdin!.writable && child.stdin!.write(line));
        };
        child.stdin!.on('drain', pump);
        pump();
      },
    });
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [2, '', capMessage('standard input', 'larger than')]);
  });

  it('check of a character device that never ends (/dev/full) is refused at the cap', async function () {
    if (!fs.existsSync('/dev/full')) this.skip();
    const r = await runCliProcess(['check', '/dev/full']);
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [2, '', capMessage('/dev/full', 'larger than')]);
  });

  it('reads up to the limit exactly; one byte more is refused by size before reading', () => {
    const at = path.join(dir, 'at.prompt');
    fs.writeFileSync(at, 'é'.repeat(5)); // 10 bytes
    assert.strictEqual(readTextBounded(at, 'at.prompt', 10), 'ééééé');
    fs.appendFileSync(at, 'x');
    assert.throws(() => readTextBounded(at, 'at.prompt', 10), { message: /^at\.prompt is 11 bytes, over 10 bytes, the most sd-prompt reads/ });
    assert.strictEqual(MAX_INPUT_BYTES, 1048576);
  });
});
