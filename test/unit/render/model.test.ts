import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { autoOrder, DeviceError, onFirstWorkingDevice } from '../../../server/src/render/onnx/devices';
import { ModelFolderError, openModelFolder } from '../../../server/src/render/model/modelFolder';

describe('render devices', () => {
  it('auto tries the platform order and reports what failed', async () => {
    assert.deepStrictEqual(autoOrder('linux', true), ['cuda', 'webgpu', 'cpu']);
    assert.deepStrictEqual(autoOrder('win32'), ['dml', 'webgpu', 'cpu']);
    const r = await onFirstWorkingDevice(
      'auto',
      'linux',
      async (d) => {
        if (d !== 'cpu') throw new Error(`${d} is not available\nstack`);
        return 'session';
      },
      true,
    );
    assert.deepStrictEqual(r, {
      value: 'session',
      device: 'cpu',
      attempts: [
        { device: 'cuda', error: 'cuda is not available' },
        { device: 'webgpu', error: 'webgpu is not available' },
      ],
    });
  });

  it('on Linux without a GPU device, auto skips WebGPU (it could only be a software adapter), an explicit webgpu still tries it', async () => {
    assert.deepStrictEqual(autoOrder('linux', false), ['cuda', 'cpu']);
    const tried: string[] = [];
    const r = await onFirstWorkingDevice(
      'auto',
      'linux',
      async (d) => {
        tried.push(d);
        if (d === 'cuda') throw new Error('no CUDA libraries');
        return d;
      },
      false,
    );
    assert.deepStrictEqual([tried, r.value], [['cuda', 'cpu'], 'cpu']);
    const named = await onFirstWorkingDevice('webgpu', 'linux', async (d) => d, false);
    assert.strictEqual(named.value, 'webgpu');
  });

  it('an explicit GPU request never falls back to the CPU', async () => {
    await assert.rejects(
      onFirstWorkingDevice('webgpu', 'linux', async () => {
        throw new Error('no adapter');
      }),
      (e: DeviceError) => e.message === "The webgpu device could not run the model (webgpu: no adapter). Choose another in sdPrompt.render.device, or 'auto'.",
    );
    await assert.rejects(onFirstWorkingDevice('tpu' as never, 'linux', async () => 1), /Unknown device 'tpu'\. Known: auto, webgpu, cuda, dml, coreml, cpu\./);
  });
});

describe('model folder', () => {
  const make = (files: Record<string, string>) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-model-'));
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
      fs.writeFileSync(path.join(root, name), content);
    }
    return root;
  };
  const complete = {
    'model_index.json': '{"_class_name": "StableDiffusionPipeline"}',
    'text_encoder/model.onnx': 'x',
    'unet/model.onnx': 'x',
    'unet/config.json': '{"cross_attention_dim": 768}',
    'vae_decoder/model.onnx': 'x',
    'tokenizer/vocab.json': '{}',
    'tokenizer/merges.txt': '',
    'scheduler/scheduler_config.json': '{"beta_start": 0.00085}',
  };

  it('reads a complete SD1 folder', () => {
    const root = make(complete);
    const folder = openModelFolder(root);
    assert.strictEqual(folder.kind, 'sd1');
    assert.strictEqual(folder.unet, path.join(root, 'unet/model.onnx'));
    assert.deepStrictEqual(folder.schedulerConfig, { beta_start: 0.00085 });
  });

  it('names the missing or broken file and what to do', () => {
    const noUnet = make(complete);
    fs.rmSync(path.join(noUnet, 'unet/model.onnx'));
    assert.throws(() => openModelFolder(noUnet), (e: ModelFolderError) => e.file === path.join(noUnet, 'unet/model.onnx') && /the unet graph is needed; export the model with `optimum-cli export onnx/.test(e.message));
    const badIndex = make({ ...complete, 'model_index.json': '{' });
    assert.throws(() => openModelFolder(badIndex), /model_index\.json is not valid JSON/);
    assert.throws(() => openModelFolder('/no/such/model'), /\/no\/such\/model is not a folder: set sdPrompt\.model/);
  });

  it('a folder without tokenizer/ uses the CLIP files shipped with sd-prompt; half a tokenizer is an error', () => {
    const noTokenizer = make(complete);
    fs.rmSync(path.join(noTokenizer, 'tokenizer'), { recursive: true });
    const folder = openModelFolder(noTokenizer, '/shipped/clip');
    assert.deepStrictEqual(folder.tokenizer, { vocab: '/shipped/clip/vocab.json', merges: '/shipped/clip/merges.txt' });
    const half = make(complete);
    fs.rmSync(path.join(half, 'tokenizer/merges.txt'));
    assert.throws(() => openModelFolder(half, '/shipped/clip'), (e: ModelFolderError) => e.file === path.join(half, 'tokenizer/merges.txt') && /the CLIP tokenizer's merges are needed/.test(e.message));
    assert.throws(() => openModelFolder(noTokenizer, null), /tokenizer\/vocab\.json is missing/);
  });
});
