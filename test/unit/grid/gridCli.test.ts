import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';
import { startSwarmServer } from '../backends/servers/swarmServer';
import { runCliProcess } from '../cli/cliProcess';

async function grid(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['grid', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => fs.readFileSync(p, 'utf8'),
    readStdin: () => assert.fail('grid reads a file'),
  });
  return { code, stdout, stderr };
}

describe('sd-prompt grid', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  let loras: string;
  let prompt: string;

  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-grid-')));
    model = path.join(dir, 'model');
    fs.mkdirSync(model);
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    loras = path.join(dir, 'loras');
    fs.mkdirSync(loras);
    writeSafetensors(path.join(loras, 'style.safetensors'), tinyKohyaLora());
    prompt = path.join(dir, 'cat.prompt');
    fs.writeFileSync(prompt, 'a cat <lora:style:0.8>\nNegative prompt: ugly\nSteps: 2, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a 3x2 grid: the grid PNG with A1111\'s labels, each cell\'s PNG with its own infotext, and --json naming them', async () => {
    const out = path.join(dir, 'weights.png');
    const r = await grid(prompt, '--x', 'Seed: 1-3', '--y', 'Prompt S/R: 0.8, 0.2', '--model', model, '--lora-dir', loras, '--device', 'cpu', '--out', out, '--json');
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    const cellsFolder = path.join(dir, 'weights-cells');
    assert.deepStrictEqual(summary.grids, [out]);
    assert.strictEqual(summary.cellsFolder, cellsFolder);
    assert.strictEqual(summary.cancelled, false);
    assert.deepStrictEqual(summary.cells[0], { file: path.join(cellsFolder, 'x1-y1.png'), x: 0, y: 0, z: 0, labels: ['Seed: 1', '0.8'], seed: 1, error: null });
    assert.deepStrictEqual(
      summary.cells.map((c: { file: string; labels: string[]; seed: number }) => [path.basename(c.file), c.labels.join(' | '), c.seed]),
      [['x1-y1.png', 'Seed: 1 | 0.8', 1], ['x2-y1.png', 'Seed: 2 | 0.8', 2], ['x3-y1.png', 'Seed: 3 | 0.8', 3], ['x1-y2.png', 'Seed: 1 | 0.2', 1], ['x2-y2.png', 'Seed: 2 | 0.2', 2], ['x3-y2.png', 'Seed: 3 | 0.2', 3]],
    );
    assert.deepStrictEqual(fs.readdirSync(cellsFolder).sort(), ['x1-y1.png', 'x1-y2.png', 'x2-y1.png', 'x2-y2.png', 'x3-y1.png', 'x3-y2.png']);
    const cell = readPngInfo(fs.readFileSync(path.join(cellsFolder, 'x2-y2.png')));
    assert.deepStrictEqual([cell.width, cell.height], [64, 64]);
    assert.match(cell.text.parameters, /^a cat <lora:style:0\.2>\nNegative prompt: ugly\nSteps: 2, Sampler: Euler a, .*Seed: 2, Size: 64x64/);
    // Three 64-px columns under a label band; two rows beside a band three quarters of a cell wide.
    const png = readPngInfo(fs.readFileSync(out));
    assert.strictEqual(png.width, 3 * 64 + 48);
    assert.ok(png.height > 2 * 64 && png.height < 2 * 64 + 64, `grid height ${png.height}`);
    assert.match(png.text.parameters, /^a cat <lora:style:0\.8>[^]*Seed: 1,/, 'the grid carries the first cell\'s infotext, as A1111 saves it');
    // Progress went to standard error, one line per cell.
    assert.deepStrictEqual(r.stderr.split('\n').filter((l) => l.startsWith('sd-prompt: cell')), [
      'sd-prompt: cell 1/6 (Seed: 1, 0.8): done',
      'sd-prompt: cell 2/6 (Seed: 2, 0.8): done',
      'sd-prompt: cell 3/6 (Seed: 3, 0.8): done',
      'sd-prompt: cell 4/6 (Seed: 1, 0.2): done',
      'sd-prompt: cell 5/6 (Seed: 2, 0.2): done',
      'sd-prompt: cell 6/6 (Seed: 3, 0.2): done',
    ]);
  });

  it('a Z axis writes the Z grid and one grid per Z value; the text summary names them', async () => {
    const out = path.join(dir, 'z.png');
    const r = await grid(prompt, '--x', 'Seed: 1, 2', '--z', 'Steps: 1, 2', '--model', model, '--device', 'cpu', '--out', out);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stdout, `${out}, ${path.join(dir, 'z-z1.png')}, ${path.join(dir, 'z-z2.png')}: 4 of 4 cells rendered; cells in ${path.join(dir, 'z-cells')}\n`);
    assert.deepStrictEqual(fs.readdirSync(path.join(dir, 'z-cells')).sort(), ['x1-y1-z1.png', 'x1-y1-z2.png', 'x2-y1-z1.png', 'x2-y1-z2.png']);
    assert.match(readPngInfo(fs.readFileSync(path.join(dir, 'z-cells', 'x1-y1-z2.png'))).text.parameters, /Steps: 2,/);
    const z1 = readPngInfo(fs.readFileSync(path.join(dir, 'z-z1.png')));
    const whole = readPngInfo(fs.readFileSync(out));
    assert.ok(whole.width >= 2 * z1.width, `the Z grid (${whole.width} wide) holds both grids (${z1.width} wide each) side by side`);
    assert.match(r.stderr, /LoRA 'style' is not in the library: rendering without it \(no --lora-dir\)\n/);
    assert.strictEqual(r.stderr.match(/not in the library/g)!.length, 1, 'the warning is given once, not per cell');
  });

  it('a cell that fails is reported and grey in the grid; the others are written and the exit code is 1', async () => {
    const out = path.join(dir, 'failing.png');
    // Size: 60x64 is refused by the engine (not a multiple of 8); Size: 64x64 renders.
    const r = await grid(prompt, '--x', 'Size: 64x64, 60x64', '--model', model, '--device', 'cpu', '--out', out, '--json');
    assert.strictEqual(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepStrictEqual(summary.cells.map((c: { file: string | null }) => c.file && path.basename(c.file)), ['x1-y1.png', null]);
    assert.deepStrictEqual(summary.cells[1], { file: null, x: 1, y: 0, z: 0, labels: ['Size: 60x64'], seed: null, error: 'Size 60x64 must be a multiple of 8 in both directions.' });
    assert.match(r.stderr, /sd-prompt: cell 2\/2 \(Size: 60x64\): failed: Size 60x64 must be a multiple of 8 in both directions\.\n/);
    assert.ok(fs.existsSync(out));
  });

  it('Ctrl-C stops after the cell in progress: the finished cells and a grid with grey gaps are written, exit 130', async function () {
    if (process.platform === 'win32') this.skip();
    const slow = path.join(dir, 'slow.prompt');
    fs.writeFileSync(slow, 'a cat\nSteps: 40, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64\n');
    const out = path.join(dir, 'interrupted.png');
    let interrupted = false;
    const r = await runCliProcess(['grid', slow, '--x', 'Seed: 1-4', '--model', model, '--device', 'cpu', '--out', out, '--json'], {
      killAfterMs: 100000,
      onStart: (child) => {
        let seen = '';
        child.stderr!.on('data', (d) => {
          seen += d;
          // Interrupted once the first cell is done and the second is under way.
          if (!interrupted && /cell 1\/4 \(Seed: 1\): done\n[^]*step \d+\/40/.test(seen)) {
            interrupted = true;
            child.kill('SIGINT');
          }
        });
      },
    });
    assert.deepStrictEqual([interrupted, r.code], [true, 130], r.stderr);
    assert.match(r.stderr, /sd-prompt: grid cancelled: the finished cells and a grid with grey gaps were written\n$/);
    const summary = JSON.parse(r.stdout);
    assert.strictEqual(summary.cancelled, true);
    assert.deepStrictEqual(summary.cells.map((c: { error: string | null }) => c.error), [null, 'not rendered (cancelled)', 'not rendered (cancelled)', 'not rendered (cancelled)']);
    assert.deepStrictEqual(fs.readdirSync(path.join(dir, 'interrupted-cells')), ['x1-y1.png']);
    assert.strictEqual(readPngInfo(fs.readFileSync(out)).width, 4 * 64);
  });

  it('bad usage exits 2 naming the axis and column; nothing is rendered or written', async () => {
    const before = fs.readdirSync(dir).sort();
    const bad = await grid(prompt, '--x', 'Seed: 1', '--y', 'Steps: 1-x', '--model', model);
    assert.strictEqual(bad.code, 2);
    assert.match(bad.stderr, /^sd-prompt: Y axis, column \d+: .*\nusage:\n/);
    const unknown = await grid(prompt, '--x', 'Colour: red', '--model', model);
    assert.strictEqual(unknown.code, 2);
    assert.match(unknown.stderr, /^sd-prompt: X axis, column 1: /);
    assert.match((await grid(prompt, '--model', model)).stderr, /grid needs --x "Type: values"/);
    assert.match((await grid(prompt, '--x', 'Seed: 1')).stderr, /grid needs --model/);
    assert.strictEqual((await grid(path.join(dir, 'none.prompt'), '--x', 'Seed: 1', '--model', model)).code, 2);
    const noModel = await grid(prompt, '--x', 'Seed: 1', '--model', path.join(dir, 'nowhere'));
    assert.strictEqual(noModel.code, 2);
    assert.match(noModel.stderr, /^sd-prompt: --model .*nowhere: no such file or folder\n/);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), before);
  });

  it('--backend swarmui sends the cells together and writes the grid from the server\'s images', async () => {
    const swarm = await startSwarmServer({ loras: ['style.safetensors'] });
    try {
      const out = path.join(dir, 'swarm.png');
      const r = await grid(prompt, '--x', 'Seed: 10, 20', '--backend', 'swarmui', '--server', swarm.url, '--out', out, '--json');
      assert.strictEqual(r.code, 0, r.stderr);
      assert.deepStrictEqual(JSON.parse(r.stdout).cells.map((c: { seed: number }) => c.seed), [10, 20]);
      assert.deepStrictEqual(swarm.requests.map((q) => q.seed).sort(), [10, 20]);
      assert.strictEqual(readPngInfo(fs.readFileSync(path.join(dir, 'swarm-cells', 'x2-y1.png'))).width, 8);
    } finally {
      await swarm.close();
    }
  });
});
