import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { RenderHost } from '../../../server/src/render/renderHost';
import { ProductPool } from '../../../server/src/render/merge/productPool';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { readZip } from './zip';

const REPO = path.resolve(__dirname, '../../../..');
const TARGET = `${process.platform}-${process.arch}`;
const BINARIES = { 'linux-x64': 'linux/x64', 'linux-arm64': 'linux/arm64', 'darwin-arm64': 'darwin/arm64', 'win32-x64': 'win32/x64' }[TARGET];

/**
 * `npm run package`'s script on the built bundles (npm test builds first): the .vsix holds what the
 * extension needs and nothing else, and the extension unpacked from it renders with its own
 * onnxruntime-node, away from the repository's node_modules.
 */
describe('the .vsix', function () {
  this.timeout(120000);
  let root: string;
  let files: Map<string, Buffer>;

  before(function () {
    if (!BINARIES) {
      console.log(`    (skipped: onnxruntime-node ships no binaries for ${TARGET}, so there is no .vsix for it)`);
      this.skip();
    }
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-vsix-'));
    const vsix = path.join(root, 'sd-prompt.vsix');
    execFileSync(process.execPath, [path.join(REPO, 'scripts/package.mjs'), '--out', vsix], { cwd: REPO, stdio: 'pipe' });
    files = readZip(fs.readFileSync(vsix));
    for (const [name, data] of files) {
      if (!name.startsWith('extension/')) continue;
      const to = path.join(root, name);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.writeFileSync(to, data);
    }
  });
  after(() => root && fs.rmSync(root, { recursive: true, force: true }));

  it(`holds the bundles, the grammar, the manifest files and only ${TARGET}'s onnxruntime binaries`, () => {
    const names = [...files.keys()].filter((n) => n.startsWith('extension/')).map((n) => n.slice('extension/'.length));
    for (const required of [
      // vsce's names for README.md, CHANGELOG.md and LICENSE.
      'package.json',
      'readme.md',
      'changelog.md',
      'LICENSE.txt',
      'images/icon.png',
      'language-configuration.json',
      'syntaxes/sd-prompt.tmLanguage.json',
      'dist/client.js',
      'dist/server.js',
      'dist/cli.js',
      'dist/renderWorker.js',
      'dist/productWorker.js',
      'bin/sd-prompt.js',
      'resources/clip/vocab.json',
      'resources/clip/merges.txt',
      'resources/clip/LICENSE',
      'resources/fonts/DejaVuSans.ttf',
      'resources/fonts/LICENSE',
      'dist/node_modules/onnxruntime-node/package.json',
      'dist/node_modules/onnxruntime-node/dist/index.js',
      `dist/node_modules/onnxruntime-node/bin/napi-v6/${BINARIES}/onnxruntime_binding.node`,
      'dist/node_modules/onnxruntime-common/dist/cjs/index.js',
    ]) {
      assert.ok(names.includes(required), `${required} is missing`);
    }
    const unexpected = names.filter(
      (n) =>
        /(^|\/)(src|test|out|bench)\//.test(n.replace(/^dist\/node_modules\/[^/]+\/dist\//, '')) ||
        n.startsWith('node_modules/') ||
        /\.(ts|map)$/.test(n) ||
        (n.includes('/bin/napi-v6/') && !n.includes(`/bin/napi-v6/${BINARIES}/`)),
    );
    assert.deepStrictEqual(unexpected, []);
    const manifest = JSON.parse(files.get('extension/package.json')!.toString('utf8'));
    assert.strictEqual(manifest.icon, 'images/icon.png');
    assert.match(files.get('extension.vsixmanifest')!.toString('utf8'), new RegExp(`TargetPlatform="${TARGET}"`));
  });

  it('the unpacked extension renders through its own worker and onnxruntime-node, its product threads run, and its CLI runs', async () => {
    const extension = path.join(root, 'extension');
    const model = path.join(root, 'model');
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    const host = new RenderHost(path.join(extension, 'dist/renderWorker.js'));
    try {
      const text = 'a lighthouse\nSteps: 2, Sampler: Euler, CFG scale: 5, Seed: 3, Size: 64x64';
      const result = await host.render({ promptText: text, model, device: 'cpu' });
      assert.strictEqual(readPngInfo(new Uint8Array(result.png)).text.parameters, result.infotext);
      assert.strictEqual(result.infotext, 'a lighthouse\nSteps: 2, Sampler: Euler, Schedule type: Automatic, CFG scale: 5, Seed: 3, Size: 64x64, Model: model, Version: sd-prompt');
    } finally {
      await host.dispose();
    }
    // The merge's product threads run from the bundle beside the render worker, with the extension's own onnxruntime-node.
    const pool = ProductPool.start(1, 1, path.join(extension, 'dist/productWorker.js'));
    assert.ok(pool, 'dist/productWorker.js is in the extension');
    try {
      const product = await pool.product({ a: Float32Array.of(1, 2, 3, 4), b: Float32Array.of(1, 0, 0, 1), m: 2, r: 2, n: 2, scale: 0.5, transposed: true });
      assert.deepStrictEqual([...product], [0.5, 1.5, 1, 2]);
    } finally {
      await pool.close();
    }
    const prompt = path.join(root, 'check.prompt');
    fs.writeFileSync(prompt, 'a cat, <lora:x:1:LyCO>\n');
    const check = spawnSync(process.execPath, [path.join(extension, 'bin/sd-prompt.js'), 'check', prompt], { encoding: 'utf8' });
    assert.strictEqual(check.status, 1, check.stderr);
    assert.match(check.stdout, /check\.prompt:1:18 error lora-weight-invalid 'LyCO' is not a number/);
    // The shipped CLIP files: exact counts with no tokenizer setting and no Hugging Face cache.
    const tokens = spawnSync(process.execPath, [path.join(extension, 'bin/sd-prompt.js'), 'tokens', '--json', '-'], {
      encoding: 'utf8',
      input: 'a photo of a cat',
      env: { ...process.env, HOME: root },
    });
    assert.strictEqual(tokens.status, 0, tokens.stderr);
    assert.deepStrictEqual(JSON.parse(tokens.stdout).ids, [320, 1125, 539, 320, 2368]);
    assert.strictEqual(tokens.stderr, '');
  });
});
