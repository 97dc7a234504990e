import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';

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

/** The progress bar on standard error, for a render of `steps` steps. */
function progress(steps: number): string {
  const bar = (step: number) => '#'.repeat(Math.round((step / steps) * 30)).padEnd(30, '.');
  return Array.from({ length: steps }, (_, i) => `\r[${bar(i + 1)}] step ${i + 1}/${steps}`).join('') + '\n';
}
const PROGRESS = progress(2);

describe('sd-prompt render', function () {
  this.timeout(60000);
  let dir: string;
  let model: string;
  let loras: string;
  let prompt: string;

  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-render-')));
    model = path.join(dir, 'model');
    fs.mkdirSync(model);
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    loras = path.join(dir, 'loras');
    fs.mkdirSync(loras);
    writeSafetensors(path.join(loras, 'style.safetensors'), tinyKohyaLora());
    const broken = tinyKohyaLora();
    broken['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight'].data[3] = NaN;
    writeSafetensors(path.join(loras, 'bad.safetensors'), broken);
    prompt = path.join(dir, 'cat.prompt');
    fs.writeFileSync(prompt, 'a cat <lora:style:0.8>\nNegative prompt: ugly\nSteps: 2, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every option takes effect: --steps --seed --sampler --cfg --width --height --device --lora-dir --out --json', async () => {
    const out = path.join(dir, 'options.png');
    const r = await render(prompt, '--model', model, '--lora-dir', loras, '--device', 'cpu', '--steps', '3', '--seed', '7', '--sampler', 'Euler', '--cfg', '3.5', '--width', '64', '--height', '48', '--out', out, '--json');
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.stderr, progress(3), 'with --device cpu no other device is tried');
    const summary = JSON.parse(r.stdout);
    assert.deepStrictEqual({ ...summary, timings: undefined }, {
      out,
      device: 'cpu',
      seed: 7,
      steps: 3,
      sampler: 'Euler',
      width: 64,
      height: 48,
      timings: undefined,
      loras: [{ name: 'style', file: path.join(loras, 'style.safetensors'), te: 0.8, unet: 0.8, matched: 2, unmatched: [], mismatched: [] }],
      notes: [],
    });
    const png = readPngInfo(new Uint8Array(fs.readFileSync(out)));
    assert.deepStrictEqual([png.width, png.height], [64, 48]);
    assert.strictEqual(
      png.text.parameters,
      'a cat <lora:style:0.8>\nNegative prompt: ugly\nSteps: 3, Sampler: Euler, Schedule type: Automatic, CFG scale: 3.5, Seed: 7, Size: 64x48, Model: model, Version: sd-prompt',
    );
  });

  it('without options: the file\'s parameters, FILE.png beside it, a one-line summary; a LoRA tag without --lora-dir is named', async () => {
    const r = await render(prompt, '--model', model, '--device', 'cpu');
    const out = path.join(dir, 'cat.png');
    assert.deepStrictEqual([r.code, r.stdout], [0, `${out}: 64x64, 2 steps of Euler a, seed 1, on cpu\n`]);
    assert.strictEqual(r.stderr, "sd-prompt: LoRA 'style' is not in the library: rendering without it (no --lora-dir)\n" + PROGRESS);
    assert.strictEqual(
      readPngInfo(new Uint8Array(fs.readFileSync(out))).text.parameters,
      'a cat <lora:style:0.8>\nNegative prompt: ugly\nSteps: 2, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 64x64, Model: model, Version: sd-prompt',
    );
  });

  it("a LoRA that cannot be merged is reported with its error and code; the image renders without it", async () => {
    const bad = path.join(dir, 'bad.prompt');
    fs.writeFileSync(bad, 'a cat <lora:bad:1>\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64\n');
    const r = await render(bad, '--model', model, '--lora-dir', loras, '--device', 'cpu');
    assert.strictEqual(r.code, 0);
    assert.strictEqual(
      r.stderr,
      PROGRESS +
        "sd-prompt: LoRA bad: not merged (lora-merge-nonfinite): lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k has NaN/Inf values in lora_up.weight\n",
    );
    assert.ok(fs.existsSync(path.join(dir, 'bad.png')));
  });

  it('an --out that cannot be written is refused before rendering (no progress), leaving nothing; the prompt file is never overwritten', async () => {
    const before = fs.readdirSync(dir).sort();
    const intoFile = await render(prompt, '--model', model, '--device', 'cpu', '--out', path.join(prompt, 'x.png'));
    assert.deepStrictEqual([intoFile.code, intoFile.stdout, intoFile.stderr], [1, '', `sd-prompt: cannot write ${path.join(prompt, 'x.png')}: ${prompt} is a file, not a folder\n`]);
    const noFolder = await render(prompt, '--model', model, '--device', 'cpu', '--out', path.join(dir, 'nope', 'x.png'));
    assert.deepStrictEqual([noFolder.code, noFolder.stderr], [1, `sd-prompt: cannot write ${path.join(dir, 'nope', 'x.png')}: the folder ${path.join(dir, 'nope')} does not exist\n`]);
    const onPrompt = await render(prompt, '--model', model, '--device', 'cpu', '--out', prompt);
    assert.deepStrictEqual([onPrompt.code, onPrompt.stderr], [1, `sd-prompt: --out ${prompt} is the prompt file itself: choose another file name\n`]);
    const aFolder = await render(prompt, '--model', model, '--device', 'cpu', '--out', loras);
    assert.deepStrictEqual([aFolder.code, aFolder.stderr], [1, `sd-prompt: --out ${loras} is a folder: give a file name, such as ${path.join(loras, 'image.png')}\n`]);
    // A render that fails (a broken model folder) leaves no half-written or hidden file either.
    const broken = await render(prompt, '--model', path.join(dir, 'loras'), '--device', 'cpu', '--out', path.join(dir, 'broken.png'));
    assert.strictEqual(broken.code, 1);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), before);
  });

  it('bad option values exit 2 with a message', async () => {
    for (const [args, message] of [
      [['--device', 'tpu'], /--device takes one of /],
      [['--cfg', 'x'], /--cfg takes a number, not 'x'/],
      [['--width', '4'], /--width takes a whole number of at least 8, not '4'/],
      [['--steps', '0'], /--steps takes a whole number of at least 1, not '0'/],
      [['--seed', '-2'], /--seed takes a whole number of at least -1, not '-2'/],
    ] as [string[], RegExp][]) {
      const r = await render(prompt, '--model', model, ...args);
      assert.strictEqual(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.match((await render(prompt)).stderr, /render needs --model DIR/);
  });
});
