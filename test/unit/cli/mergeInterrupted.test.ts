import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';
import { runCliProcess } from './cliProcess';

describe('sd-prompt merge interrupted', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-interrupt-')));
    fs.mkdirSync(path.join(dir, 'model'));
    generateTinyPipeline(path.join(dir, 'model'), { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    writeSafetensors(path.join(dir, 'style.safetensors'), tinyKohyaLora());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('Ctrl-C (SIGINT) while the output is being written leaves neither the output nor its hidden staging folder', async function () {
    if (process.platform === 'win32') this.skip();
    const outs = path.join(dir, 'outs');
    fs.mkdirSync(outs);
    let watcher: fs.FSWatcher | undefined;
    let interrupted = false;
    const r = await runCliProcess(['merge', '--model', path.join(dir, 'model'), '--lora', path.join(dir, 'style.safetensors'), '--out', path.join(outs, 'merged')], {
      onStart: (child) => {
        // Interrupted as soon as the staging folder appears: the merge itself has not started yet.
        watcher = fs.watch(outs, () => {
          if (interrupted || !fs.readdirSync(outs).some((n) => n.startsWith('.merged.sd-prompt-'))) return;
          interrupted = true;
          child.kill('SIGINT');
        });
      },
    });
    watcher?.close();
    assert.deepStrictEqual([interrupted, r.signal, r.stdout, r.stderr], [true, 'SIGINT', '', '']);
    assert.deepStrictEqual(fs.readdirSync(outs), []);
  });
});
