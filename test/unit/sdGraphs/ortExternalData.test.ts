import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { InitializerBytes, ModelBuilder, StoredType } from '../../../server/src/render/onnx/onnxWriter';
import { graphSessionOptions } from '../../../server/src/render/sdGraphs/graphSessions';

/**
 * What onnxruntime-node (1.30) accepts for external data, which decides how checkpoint graphs point at
 * a checkpoint (docs/rendering.md, "Checkpoint graphs and external data"). Each graph is y = x·W with
 * W = [[1, 2], [3, 4]] read from a file, so x = [1, 1] gives [4, 6] (two in a row: [22, 32]).
 */

const W32 = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
const W16 = Buffer.from(new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400]).buffer);
const WBF16 = Buffer.from(new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080]).buffer);

function matmulModel(weights: InitializerBytes[], type: StoredType = 'float32'): ModelBuilder {
  const m = new ModelBuilder(17);
  const g = m.graph;
  g.input('x', 'float32', [1, 2]);
  let y = 'x';
  weights.forEach((bytes, i) => {
    let w = g.initializerBytes(`w${i}`, type, [2, 2], bytes);
    if (type !== 'float32') w = g.node('Cast', [w], [`w${i}_f32`], { to: 1 }, `/w${i}/Cast`)[0];
    y = g.node('MatMul', [y, w], [`y${i}`], {}, `/mm${i}/MatMul`)[0];
  });
  g.node('Identity', [y], ['out'], {}, '/Identity');
  g.output('out', 'float32', [1, 2]);
  return m;
}

async function runOnce(create: () => Promise<ort.InferenceSession>): Promise<number[]> {
  const session = await create();
  try {
    const result = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1), [1, 2]) });
    return Array.from(result.out.data as Float32Array);
  } finally {
    await session.release();
  }
}

describe('onnxruntime-node external data', function () {
  this.timeout(60000);
  let root: string;
  let models: string;
  let weights: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ort-external-'));
    models = path.join(root, 'models');
    weights = path.join(root, 'weights');
    fs.mkdirSync(models);
    fs.mkdirSync(weights);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** `bytes` written at `offset` of weights/<name> (the file is sparse before it). */
  function weightFile(name: string, offset: number, bytes: Buffer = W32): { file: string; offset: number; length: number } {
    const file = path.join(weights, name);
    const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w');
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
    fs.closeSync(fd);
    return { file, offset, length: bytes.length };
  }

  function writeModel(name: string, model: ModelBuilder, locate: (file: string) => string): string {
    const file = path.join(models, name);
    fs.writeFileSync(file, model.serialize({ locate }).model);
    return file;
  }

  const folderOption = (dir: string): ort.InferenceSession.SessionOptions =>
    graphSessionOptions({ component: 'unet', model: '', dataFolder: dir, inputs: [], outputs: [] }, { logSeverityLevel: 4 });

  it('refuses a location outside the model folder: absolute, through .., or through a symlink', async () => {
    const w = weightFile('w.bin', 100);
    const quiet = { logSeverityLevel: 4 as const };
    const cases: [string, string, RegExp][] = [
      ['absolute.onnx', w.file, /Absolute path not allowed/],
      ['dotdot.onnx', '../weights/w.bin', /escapes model directory/],
    ];
    // Windows makes symlinks only with a privilege most users lack.
    if (process.platform !== 'win32') {
      fs.symlinkSync(w.file, path.join(models, 'link.bin'));
      cases.push(['symlink.onnx', 'link.bin', /escapes model directory/]);
    }
    for (const [name, location, message] of cases) {
      const file = writeModel(name, matmulModel([w]), () => location);
      await assert.rejects(runOnce(() => ort.InferenceSession.create(file, quiet)), message, name);
    }
  });

  it('reads a basename from model_external_initializers_file_folder_path, for a model from a path or from bytes', async () => {
    const w = weightFile('checkpoint.safetensors', 100);
    const model = matmulModel([w]);
    const file = writeModel('graph.onnx', model, (f) => path.basename(f));
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(file, folderOption(weights))), [4, 6]);
    const bytes = model.serialize({ locate: (f) => path.basename(f) }).model;
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(bytes, folderOption(weights))), [4, 6]);
  });

  it('takes in-memory external data only as a Buffer, and then for every external initializer', async () => {
    const w = weightFile('w.bin', 0);
    const bytes = matmulModel([w]).serialize({ locate: () => 'w.bin' }).model;
    const quiet = { logSeverityLevel: 4 as const };
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(bytes, { ...quiet, externalData: [{ path: 'w.bin', data: fs.readFileSync(w.file) }] })), [4, 6]);
    await assert.rejects(
      runOnce(() => ort.InferenceSession.create(bytes, { ...quiet, externalData: [{ path: 'w.bin', data: w.file as unknown as Uint8Array }] })),
      /must have an 'data' property of type buffer or typed array/,
    );
    const mixed = matmulModel([w, { file: path.join(weights, 'memory.bin'), offset: 0, length: 16 }]).serialize({ locate: (f) => path.basename(f) }).model;
    await assert.rejects(
      runOnce(() => ort.InferenceSession.create(mixed, { ...folderOption(weights), externalData: [{ path: 'memory.bin', data: W32 }] })),
      /w\.bin not found from the table user provided/,
    );
  });

  it('reads many initializers from one file, the same range twice, and unaligned offsets', async () => {
    weightFile('one.bin', 0);
    const second = weightFile('one.bin', 19);
    const first = { ...second, offset: 0 };
    const file = writeModel('one.onnx', matmulModel([first, second, second]), (f) => path.basename(f));
    // x·W·W·W = [4, 6]·W·W = [22, 32]·W = [118, 172]
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(file, folderOption(weights))), [118, 172]);
  });

  it('reads offsets past 2 GiB and 4 GiB', async function () {
    // NTFS files are not sparse unless asked: this would write 4 GiB of zeros there.
    if (process.platform === 'win32') this.skip();
    for (const offset of [2 ** 31 + 5, 2 ** 32 + 12]) {
      const w = weightFile(`big-${offset}.bin`, offset);
      const file = writeModel(`big-${offset}.onnx`, matmulModel([w]), (f) => path.basename(f));
      assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(file, folderOption(weights))), [4, 6], `offset ${offset}`);
      fs.rmSync(w.file);
    }
  });

  it('casts fp16 and bf16 weights it reads as they are stored', async () => {
    const h = weightFile('h.bin', 8, W16);
    const bf = weightFile('bf.bin', 8, WBF16);
    const hFile = writeModel('h.onnx', matmulModel([h], 'float16'), (f) => path.basename(f));
    const bfFile = writeModel('bf.onnx', matmulModel([bf], 'bfloat16'), (f) => path.basename(f));
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(hFile, folderOption(weights))), [4, 6]);
    assert.deepStrictEqual(await runOnce(() => ort.InferenceSession.create(bfFile, folderOption(weights))), [4, 6]);
  });

  it('says which initializer a range past the end of its file belongs to', async () => {
    const w = weightFile('short.bin', 0);
    const file = writeModel('short.onnx', matmulModel([{ ...w, offset: 8 }]), (f) => path.basename(f));
    await assert.rejects(runOnce(() => ort.InferenceSession.create(file, folderOption(weights))), /w0 offset: 8 size to read: 16 given file_length: 16/);
  });
});
