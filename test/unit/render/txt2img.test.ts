import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { RenderCancelled, RenderParameters, renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15, TINY_SD2, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { renderParameters } from '../../../server/src/render/parameters';
import { FIXTURES } from '../fixtures';
import { main } from '../../../server/src/cli/main';
import { tinyKohyaLora, writeSafetensors } from './loraFiles';

describe('txt2img on the tiny generated SD1.5 pipeline (CPU EP)', function () {
  this.timeout(60000);
  let root: string;
  let sessions: ModelSessions;
  const params: RenderParameters = {
    prompt: 'a (cat:1.2) AND a dog:0.5, [day:night:3]',
    negativePrompt: 'lowres',
    steps: 6,
    sampler: 'Euler a',
    cfgScale: 7,
    seed: 1234,
    width: 64,
    height: 64,
    modelName: 'tiny-sd15',
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-tiny-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('renders a PNG whose infotext reads back as the same prompt and parameters', async () => {
    const steps: number[] = [];
    const previews: number[] = [];
    const result = await renderTxt2Img(ort, openModelFolder(root), sessions, params, {
      previewEvery: 3,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.preview) previews.push(p.preview.rgb.length);
      },
    });
    assert.deepStrictEqual(steps, [1, 2, 3, 4, 5, 6]);
    assert.deepStrictEqual(previews, [8 * 8 * 3, 8 * 8 * 3]);
    const info = readPngInfo(result.png);
    assert.deepStrictEqual([info.width, info.height], [64, 64]);
    assert.strictEqual(info.text.parameters, result.infotext);
    const doc = parsePromptDocument(info.text.parameters);
    assert.strictEqual(doc.text.slice(doc.positive.part.content.start, doc.positive.part.content.end), params.prompt);
    assert.strictEqual(doc.negative!.prompt.text, 'lowres');
    assert.deepStrictEqual(
      doc.sections.parameters!.entries.map((e) => `${e.key}: ${e.value}`),
      ['Steps: 6', 'Sampler: Euler a', 'Schedule type: Automatic', 'CFG scale: 7', 'Seed: 1234', 'Size: 64x64', 'Model: tiny-sd15', 'Version: sd-prompt'],
    );
    assert.strictEqual(sessions.device, 'cpu');
  });

  it("the infotext carries the prompts without their comments, as A1111's strip_comments leaves them", async () => {
    const file = '# my notes\na cat, <lora:style:0.5> # keep it soft\nsky\nNegative prompt: lowres # not this\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64';
    const result = await renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(file, { model: root }));
    assert.strictEqual(
      result.infotext,
      // strip_comments turns "lowres # not this" into "lowres \n", and create_infotext adds its own "\n".
      'a cat, <lora:style:0.5> \nsky\nNegative prompt: lowres \n\nSteps: 2, Sampler: Euler, Schedule type: Automatic, CFG scale: 7, Seed: 5, Size: 64x64, Model: ' + path.basename(root) + ', Version: sd-prompt',
    );
  });

  it('a file rendered from its one parse (renderParameters) gives the same PNG as its prompts parsed by the pipeline', async () => {
    // Comments, a LoRA tag, AND weights, prompt editing and emphasis: every stage the parse hands over.
    const file = 'a (cat:1.2) <lora:style:0.5> AND a dog:0.5, [day:night:3] # a comment\nNegative prompt: lowres # not this\nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 64x64';
    const fromFile = renderParameters(file, { model: root });
    const bare: RenderParameters = { ...fromFile, parsed: undefined };
    const folder = openModelFolder(root);
    const [parsedOnce, parsedHere] = [await renderTxt2Img(ort, folder, sessions, fromFile), await renderTxt2Img(ort, folder, sessions, bare)];
    assert.ok(parsedOnce.png.equals(parsedHere.png));
    // And the tag, the comment and the weight changed what was encoded (the texts are not ignored).
    const plain = await renderTxt2Img(ort, folder, sessions, { ...bare, prompt: 'a (cat:1.2) <lora:style:0.5> AND a dog, [day:night:3]' });
    assert.ok(!plain.png.equals(parsedOnce.png));
  });

  it('the same seed gives identical PNG bytes; another seed does not', async () => {
    const folder = openModelFolder(root);
    const a = await renderTxt2Img(ort, folder, sessions, params);
    const b = await renderTxt2Img(ort, folder, sessions, params);
    const c = await renderTxt2Img(ort, folder, sessions, { ...params, seed: 99 });
    assert.ok(a.png.equals(b.png));
    assert.ok(!a.png.equals(c.png));
  });

  it('every sampler runs; an unknown one is an error naming the known ones', async () => {
    const folder = openModelFolder(root);
    for (const sampler of ['Euler', 'Euler a', 'DDIM', 'DPM++ 2M', 'DPM++ 2M Karras', 'LCM']) {
      const r = await renderTxt2Img(ort, folder, sessions, { ...params, sampler, steps: 4 });
      assert.strictEqual(readPngInfo(r.png).width, 64, sampler);
    }
    await assert.rejects(renderTxt2Img(ort, folder, sessions, { ...params, sampler: 'Foo' }), /Unknown sampler 'Foo'\. Known: DPM\+\+ 2M, DPM\+\+ SDE, .*, UniPC, LCM$/);
  });

  it('the WebGPU EP agrees with the CPU EP', async function () {
    let gpu: ModelSessions;
    try {
      gpu = await loadSessions(openModelFolder(root), 'webgpu', ort);
    } catch (e) {
      // CI installs Mesa's lavapipe (bookworm-backports) so this runs there; say why when it cannot.
      console.log(`      skipped: no WebGPU adapter here (${(e as Error).message.slice(0, 160)})`);
      this.skip();
    }
    try {
      const folder = openModelFolder(root);
      // No emphasis here: A1111 rescales emphasized chunks by original/new mean, and the random
      // tiny encoder's hidden states average near 0, which turns 1e-7 EP differences into large
      // ones. Real CLIP states have a mean well away from 0.
      const agreeing = { ...params, prompt: 'a cat AND a dog:0.5, [day:night:3]', steps: 4 };
      const cpu = await renderTxt2Img(ort, folder, sessions, agreeing);
      const web = await renderTxt2Img(ort, folder, gpu!, agreeing);
      let worst = 0;
      for (let i = 0; i < cpu.rgb.length; i++) worst = Math.max(worst, Math.abs(cpu.rgb[i] - web.rgb[i]));
      // Float differences between the EPs (≈1e-4 in the latents) may move a pixel by a level or two.
      assert.ok(worst <= 3, `largest pixel difference ${worst}`);
      assert.strictEqual(gpu!.device, 'webgpu');
    } finally {
      await gpu!.release();
    }
  });

  it('cancellation takes effect within one step', async () => {
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(
      renderTxt2Img(ort, openModelFolder(root), sessions, { ...params, steps: 20 }, {
        signal: controller.signal,
        onProgress: (p) => {
          seen = p.step;
          if (p.step === 2) controller.abort();
        },
      }),
      RenderCancelled,
    );
    assert.strictEqual(seen, 2);
  });

  it('sd-prompt render: parameters from the file, options over them, a JSON summary, a PNG', async () => {
    const file = path.join(root, 'cat.prompt');
    fs.writeFileSync(file, 'a cat, (sunset:1.1)\nNegative prompt: blurry\nSteps: 5, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, Seed: 42, Size: 64x64\n');
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), readFile: (file: string) => fs.readFileSync(file, 'utf8'), readStdin: () => '' };
    const code = await main(['render', file, '--model', root, '--device', 'cpu', '--steps', '3', '--json'], io);
    assert.strictEqual(code, 0, stderr);
    const summary = JSON.parse(stdout);
    assert.deepStrictEqual(
      { ...summary, timings: Object.keys(summary.timings) },
      { out: path.join(root, 'cat.png'), device: 'cpu', seed: 42, steps: 3, sampler: 'DPM++ 2M', width: 64, height: 64, timings: ['load', 'encode', 'denoise', 'decode'], loras: [], notes: [] },
    );
    assert.match(stderr, /\[#{30}\] step 3\/3/);
    const info = readPngInfo(fs.readFileSync(summary.out));
    assert.match(info.text.parameters, /^a cat, \(sunset:1\.1\)\nNegative prompt: blurry\nSteps: 3, Sampler: DPM\+\+ 2M, Schedule type: Karras, CFG scale: 6, Seed: 42, Size: 64x64/);

    stderr = '';
    assert.strictEqual(await main(['render', file, '--model', path.join(root, 'missing')], io), 1);
    assert.match(stderr, /missing is not a folder: set sdPrompt\.model \(or --model\)/);
    stderr = '';
    assert.strictEqual(await main(['render', file, '--model', root, '--device', 'tpu'], io), 2);
    assert.match(stderr, /--device takes one of auto, webgpu, cuda, dml, coreml, cpu, not 'tpu'/);
    assert.strictEqual(await main(['render', file], io), 2);
  });

  it('SDXL: two text encoders, pooled embeddings and size ids; an empty negative prompt is zeros', async () => {
    const xl = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-tiny-xl-'));
    try {
      generateTinyPipeline(xl, { ...TINY_SDXL, tokenizerFrom: path.join(FIXTURES, 'clip') });
      const folder = openModelFolder(xl);
      assert.strictEqual(folder.kind, 'sdxl');
      const xlSessions = await loadSessions(folder, 'cpu', ort);
      try {
        const withNegative = await renderTxt2Img(ort, folder, xlSessions, { ...params, steps: 3 });
        const withoutNegative = await renderTxt2Img(ort, folder, xlSessions, { ...params, steps: 3, negativePrompt: '' });
        assert.deepStrictEqual([readPngInfo(withNegative.png).width, readPngInfo(withNegative.png).height], [64, 64]);
        assert.ok(!withNegative.png.equals(withoutNegative.png));
        const again = await renderTxt2Img(ort, folder, xlSessions, { ...params, steps: 3 });
        assert.ok(withNegative.png.equals(again.png));
      } finally {
        await xlSessions.release();
      }
    } finally {
      fs.rmSync(xl, { recursive: true, force: true });
    }
  });

  it('other exports: SD2, and fp16 graphs with int64 ids and timestep', async () => {
    for (const [name, config] of [
      ['sd2', TINY_SD2],
      ['fp16', { ...TINY_SD15, dtype: 'fp16', inputIdsType: 'int64', timestepType: 'int64' }],
    ] as const) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sd-tiny-${name}-`));
      try {
        generateTinyPipeline(dir, { ...config, tokenizerFrom: path.join(FIXTURES, 'clip') });
        const folder = openModelFolder(dir);
        const s = await loadSessions(folder, 'cpu', ort);
        try {
          const r = await renderTxt2Img(ort, folder, s, { ...params, steps: 3, sampler: 'DDIM' });
          assert.strictEqual(readPngInfo(r.png).width, 64, name);
          if (name === 'fp16') assert.deepStrictEqual([s.unet.inputs.get('sample')!.type, s.unet.inputs.get('timestep')!.type, s.textEncoder.inputs.get('input_ids')!.type], ['float16', 'int64', 'int64']);
        } finally {
          await s.release();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('a graph that is not what its folder says, and a size A1111 cannot use, are clear errors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-tiny-wrong-'));
    try {
      generateTinyPipeline(dir, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
      fs.copyFileSync(path.join(dir, 'vae_decoder/model.onnx'), path.join(dir, 'unet/model.onnx'));
      await assert.rejects(
        loadSessions(openModelFolder(dir), 'cpu', ort),
        (e: Error) =>
          e.message.startsWith(`${path.join(dir, 'unet/model.onnx')} is not a diffusers unet graph: it lacks input 'sample', input 'timestep', input 'encoder_hidden_states', output 'out_sample' (it has inputs latent_sample; outputs sample).`),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(renderTxt2Img(ort, openModelFolder(root), sessions, { ...params, width: 60 }), /Size 60x64 must be a multiple of 8 in both directions\./);
  });

  it('sd-prompt render merges the prompt\'s LoRAs from --lora-dir and reports each', async () => {
    const loraDir = path.join(root, 'loras');
    fs.mkdirSync(loraDir, { recursive: true });
    writeSafetensors(path.join(loraDir, 'style.safetensors'), tinyKohyaLora());
    fs.writeFileSync(path.join(loraDir, 'old_format.safetensors'), fs.readFileSync(path.join(FIXTURES, 'lora/cloneofsimo/lora_disney.safetensors')));
    const run = async (prompt: string) => {
      const file = path.join(root, 'lora.prompt');
      fs.writeFileSync(file, `${prompt}\nSteps: 3, Sampler: Euler, CFG scale: 6, Seed: 5, Size: 64x64`);
      let stdout = '';
      let stderr = '';
      const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), readFile: (file: string) => fs.readFileSync(file, 'utf8'), readStdin: () => '' };
      const code = await main(['render', file, '--model', root, '--device', 'cpu', '--lora-dir', loraDir, '--json'], io);
      assert.strictEqual(code, 0, stderr);
      return { summary: JSON.parse(stdout), stderr, png: fs.readFileSync(path.join(root, 'lora.png')) };
    };
    const plain = await run('a cat');
    const styled = await run('a cat <lora:style:0.8:0.5> <lora:old_format:1> <lora:missing:1>');
    assert.deepStrictEqual(plain.summary.loras, []);
    assert.deepStrictEqual(styled.summary.loras, [
      { name: 'style', file: path.join(loraDir, 'style.safetensors'), te: 0.8, unet: 0.5, matched: 2, unmatched: [], mismatched: [] },
      {
        name: 'old_format',
        file: path.join(loraDir, 'old_format.safetensors'),
        te: 0,
        unet: 0,
        matched: 0,
        unmatched: [],
        mismatched: [],
        error: styled.summary.loras[1].error,
      },
    ]);
    assert.match(styled.summary.loras[1].error, /cloneofsimo/);
    assert.match(styled.stderr, /LoRA 'missing' is not in the library: rendering without it/);
    assert.ok(!plain.png.equals(styled.png));
    // A weight A1111 cannot read drops every LoRA, as in the webui.
    const dropped = await run('a cat <lora:style:abc>');
    assert.deepStrictEqual(dropped.summary.loras, []);
    assert.match(dropped.stderr, /could not convert string to float: 'abc': A1111 applies no LoRA/);
  });
});
