// `auto` device probing: a provider whose library is not installed is skipped without asking onnxruntime
// (asking printed onnxruntime's red "Failed to load library" lines into every render's output), and one line
// says what was tried.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DeviceError,
  ExecutionProvider,
  onFirstWorkingDevice,
  onnxruntimeBinDir,
  unavailableDevice,
} from '../../../server/src/render/onnx/devices';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';

const BIN = '/x/node_modules/onnxruntime-node/bin/napi-v6/linux/x64';
const MISSING_CUDA =
  `libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so not installed in ${BIN} ` +
  "(onnxruntime-node's install script downloads them for CUDA 12 unless ONNXRUNTIME_NODE_INSTALL=skip)";

/** A bin folder holding exactly `files`. */
const holding = (...files: string[]) => (file: string) => files.includes(path.basename(file)) && path.dirname(file) === BIN;

describe('render device probing', () => {
  it('CUDA without its provider libraries is unavailable, with the files that are missing; built-in providers are always asked', () => {
    assert.strictEqual(unavailableDevice('cuda', 'linux', BIN, holding()), MISSING_CUDA);
    assert.strictEqual(
      unavailableDevice('cuda', 'linux', BIN, holding('libonnxruntime_providers_shared.so')),
      `libonnxruntime_providers_cuda.so not installed in ${BIN} (onnxruntime-node's install script downloads them for CUDA 12 unless ONNXRUNTIME_NODE_INSTALL=skip)`,
    );
    assert.strictEqual(unavailableDevice('cuda', 'linux', BIN, holding('libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so')), undefined);
    assert.match(unavailableDevice('cuda', 'win32', BIN, holding()) ?? '', /^onnxruntime_providers_shared\.dll and onnxruntime_providers_cuda\.dll not installed/);
    assert.strictEqual(unavailableDevice('cuda', 'darwin', BIN, holding()), 'onnxruntime-node has no CUDA provider on macOS');
    for (const device of ['cpu', 'webgpu', 'dml', 'coreml'] as const) assert.strictEqual(unavailableDevice(device, 'linux', BIN, holding()), undefined, device);
  });

  it("auto skips a missing CUDA without asking onnxruntime, runs on the next device and says why CUDA did not run", async () => {
    const asked: ExecutionProvider[] = [];
    const r = await onFirstWorkingDevice(
      'auto',
      'linux',
      async (d) => {
        asked.push(d);
        return d;
      },
      false,
      (d) => unavailableDevice(d, 'linux', BIN, holding()),
    );
    assert.deepStrictEqual([asked, r.device, r.attempts], [['cpu'], 'cpu', [{ device: 'cuda', error: MISSING_CUDA }]]);
  });

  it('cuda named explicitly without its libraries fails with what is missing, and onnxruntime is not asked', async () => {
    let asked = false;
    await assert.rejects(
      onFirstWorkingDevice(
        'cuda',
        'linux',
        async () => {
          asked = true;
          return 1;
        },
        false,
        (d) => unavailableDevice(d, 'linux', BIN, holding()),
      ),
      (e: DeviceError) => e.message === `The cuda device could not run the model (cuda: ${MISSING_CUDA}). Choose another in sdPrompt.render.device, or 'auto'.`,
    );
    assert.strictEqual(asked, false);
  });

  it("finds onnxruntime-node's native folder (the one its binding is loaded from)", () => {
    const dir = onnxruntimeBinDir();
    assert.ok(dir && fs.existsSync(path.join(dir, 'onnxruntime_binding.node')), String(dir));
  });

  it("loading a model on auto prints none of onnxruntime's errors when CUDA's libraries are not installed", function () {
    this.timeout(60_000);
    const dir = onnxruntimeBinDir()!;
    if (unavailableDevice('cuda', process.platform, dir) === undefined) {
      // CUDA's provider is installed here: onnxruntime is asked for it, as it should be.
      this.skip();
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-devices-'));
    try {
      generateTinyPipeline(tmp, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
      // onnxruntime's logger writes to the process's stderr from native code: only a child process can see it.
      const script = `
        const { loadSessions } = require(${JSON.stringify(require.resolve('../../../server/src/render/model/sessions'))});
        const { openModelFolder } = require(${JSON.stringify(require.resolve('../../../server/src/render/model/modelFolder'))});
        loadSessions(openModelFolder(${JSON.stringify(tmp)}), 'auto').then(async (s) => {
          console.log(JSON.stringify({ device: s.device, attempts: s.attempts.map((a) => a.device) }));
          await s.release();
        });`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50_000 });
      assert.strictEqual(r.stderr, '');
      assert.deepStrictEqual(JSON.parse(r.stdout), { device: 'cpu', attempts: ['cuda'] });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
