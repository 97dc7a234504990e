import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';
import { runCliProcess } from './cliProcess';

/** `sd-prompt convert` and `merge --model CKPT --out FILE.safetensors` stopped by Ctrl-C leave nothing behind. */
describe('sd-prompt convert / checkpoint merge interrupted', function () {
  this.timeout(60000);
  let dir: string;
  const savedCache = process.env.XDG_CACHE_HOME;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-convert-interrupt-')));
    // The CLI child inherits this: its graph cache stays in the test's folder.
    process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
    writeCheckpoint(path.join(dir, 'tiny.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    writeSafetensors(path.join(dir, 'style.safetensors'), tinyKohyaLora());
  });
  after(() => {
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs the CLI, which interrupts itself (SIGINT) as soon as it creates its hidden staging entry whose name
   * starts with `prefix` (interruptWhenStaged.ts, preloaded); `stagedAt` is that entry's name.
   */
  async function interruptWhenStaged(args: string[], prefix: string) {
    const report = path.join(dir, 'interrupted-at.txt');
    fs.rmSync(report, { force: true });
    const r = await runCliProcess(args, {
      nodeArgs: ['--require', path.join(__dirname, 'interruptWhenStaged.js')],
      env: { ...process.env, SD_PROMPT_TEST_INTERRUPT_PREFIX: prefix, SD_PROMPT_TEST_INTERRUPT_REPORT: report },
    });
    const stagedAt = fs.existsSync(report) ? path.basename(fs.readFileSync(report, 'utf8')) : undefined;
    fs.rmSync(report, { force: true });
    return { stagedAt, ...r };
  }

  it('convert: neither the folder nor its hidden staging folder is left', async function () {
    if (process.platform === 'win32') this.skip();
    const outs = path.join(dir, 'converted');
    fs.mkdirSync(outs);
    const r = await interruptWhenStaged(['convert', path.join(dir, 'tiny.safetensors'), '--out', path.join(outs, 'tiny')], '.tiny.sd-prompt-');
    assert.deepStrictEqual([r.stagedAt?.startsWith('.tiny.sd-prompt-'), r.signal, r.stdout, r.stderr], [true, 'SIGINT', '', '']);
    assert.deepStrictEqual(fs.readdirSync(outs), []);
  });

  it('merge to .safetensors: neither the file nor its hidden staging file is left', async function () {
    if (process.platform === 'win32') this.skip();
    const outs = path.join(dir, 'merged');
    fs.mkdirSync(outs);
    const args = ['merge', '--model', path.join(dir, 'tiny.safetensors'), '--lora', path.join(dir, 'style.safetensors'), '--out', path.join(outs, 'baked.safetensors')];
    const r = await interruptWhenStaged(args, '.baked.safetensors.sd-prompt-');
    assert.deepStrictEqual([r.stagedAt?.startsWith('.baked.safetensors.sd-prompt-'), r.signal, r.stdout, r.stderr], [true, 'SIGINT', '', '']);
    assert.deepStrictEqual(fs.readdirSync(outs), []);
    // Nothing beside the sources either (the graph cache aside).
    assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n !== 'cache').sort(), ['converted', 'merged', 'style.safetensors', 'tiny.safetensors']);
  });
});
