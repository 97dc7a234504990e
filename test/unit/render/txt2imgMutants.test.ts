import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelFolder, openModelFolder } from '../../../server/src/render/model/modelFolder';
import { GraphIo, loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { RenderCancelled, RenderParameters, RenderProgress, renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { generateTranscribablePipeline } from '../../../server/src/render/testModel/transcribablePipeline';
import { renderParameters } from '../../../server/src/render/parameters';
import { renderImageRng } from '../../../server/src/render/pipeline/rng/renderNoise';
import { createSampler, NoiseSchedule } from '../../../server/src/render/pipeline/schedulers';
import { FIXTURES } from '../fixtures';

/*
 * What a user sees of txt2img's loop beyond the picture itself, on the tiny SD1.5 pipeline: the live
 * preview's pixels, cancelling at each stage, the timings, each text encoded once, prompt editing with
 * second-order and adaptive samplers, the infotext's keys in A1111's create_infotext order, fp16
 * graphs, and the errors a broken folder gives. The graphs' runs are read by wrapping their sessions.
 */

interface Runs {
  textEncoder: number;
  unet: { context: Float32Array; sample: Float32Array; timestep: number }[];
  /** The VAE decoder's input (the final latent / 0.18215), per run. */
  decoder: Float32Array[];
}

/**
 * The same graph, with `onRun` told of each run's feeds before it runs (it may throw, as a cancel would be
 * noticed) and `onResult` of its results.
 */
function watched(io: GraphIo, onRun: (feeds: Record<string, Tensor>) => void, onResult?: (feeds: Record<string, Tensor>, results: Record<string, Tensor>) => void): GraphIo {
  const real = io.session;
  const session = Object.create(real) as InferenceSession;
  session.run = (async (feeds: Record<string, Tensor>) => {
    onRun(feeds);
    const results = await real.run(feeds);
    onResult?.(feeds, results as Record<string, Tensor>);
    return results;
  }) as InferenceSession['run'];
  return { ...io, session };
}

describe('txt2img: the preview, cancel, timings, encoding, prompt editing and infotext a user sees (tiny SD1.5, CPU EP)', function () {
  this.timeout(120000);
  let root: string;
  let folder: ModelFolder;
  let sessions: ModelSessions;
  const base: RenderParameters = {
    prompt: 'a cat',
    negativePrompt: 'lowres',
    steps: 3,
    sampler: 'Euler',
    cfgScale: 7,
    seed: 1234,
    width: 64,
    height: 64,
    modelName: 'tiny-sd15',
  };

  /** Sessions whose runs are counted; `hooks` run before the graph does. */
  function watchedSessions(hooks: { textEncoder?: () => void; unet?: () => void } = {}): { sessions: ModelSessions; runs: Runs } {
    const runs: Runs = { textEncoder: 0, unet: [], decoder: [] };
    return {
      runs,
      sessions: {
        ...sessions,
        textEncoder: watched(sessions.textEncoder, () => {
          runs.textEncoder++;
          hooks.textEncoder?.();
        }),
        unet: watched(sessions.unet, (feeds) => {
          runs.unet.push({
            context: Float32Array.from(feeds.encoder_hidden_states.data as Float32Array),
            sample: Float32Array.from(feeds.sample.data as Float32Array),
            timestep: (feeds.timestep.data as Float32Array)[0],
          });
          hooks.unet?.();
        }),
        vaeDecoder: watched(sessions.vaeDecoder, (feeds) => {
          runs.decoder.push(Float32Array.from(feeds.latent_sample.data as Float32Array));
        }),
      },
    };
  }

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-mut-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    folder = openModelFolder(root);
    sessions = await loadSessions(folder, 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("the live preview is A1111's cheap approximation (sd_vae_approx.cheap_approximation) of the latent each step ends on", async () => {
    const { sessions: s, runs } = watchedSessions();
    const progress: RenderProgress[] = [];
    await renderTxt2Img(ort, folder, s, base, { previewEvery: 1, onProgress: (p) => progress.push(p) });
    assert.deepStrictEqual(progress.map((p) => [p.step, p.steps, p.preview?.width, p.preview?.height]), [[1, 3, 8, 8], [2, 3, 8, 8], [3, 3, 8, 8]]);
    // Euler's last step ends on the latent the VAE decodes: decoder input × 0.18215.
    const latent = Array.from(runs.decoder[0], (v) => v * 0.18215);
    const coefficients = [
      [0.298, 0.207, 0.208],
      [0.187, 0.286, 0.173],
      [-0.158, 0.189, 0.264],
      [-0.184, -0.271, -0.473],
    ];
    const plane = 64;
    const expected: number[] = [];
    for (let k = 0; k < plane; k++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let l = 0; l < 4; l++) v += latent[l * plane + k] * coefficients[l][c];
        expected.push(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
      }
    }
    // A1111's single_sample_to_image: clamp((x + 1) / 2, 0, 1) × 255 truncated to uint8 (astype); a value
    // within float noise of a whole number may go either way.
    const preview = progress[2].preview!.rgb;
    assert.strictEqual(preview.length, expected.length);
    expected.forEach((exact, i) => {
      const allowed = new Set([Math.floor(Math.max(0, exact - 1e-3)), Math.floor(Math.min(255, exact + 1e-3))]);
      assert.ok(allowed.has(preview[i]), `preview value ${i} (pixel ${Math.floor(i / 3)}, channel ${i % 3}): ${preview[i]}, A1111 shows ${[...allowed].join(' or ')} (${exact.toFixed(3)})`);
    });
    // The tiny model's latents saturate most pixels; enough are in between for the coefficients to show.
    assert.ok(expected.filter((e) => e > 0 && e < 255).length >= 20);
  });

  /** The render's rejection (it must reject). */
  async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (e) {
      return e as Error;
    }
    assert.fail('the render finished');
  }

  it('cancelling while the prompt is encoded stops before the next AND part is encoded and before any UNet step', async () => {
    const controller = new AbortController();
    const { sessions: s, runs } = watchedSessions({ textEncoder: () => controller.abort() });
    const error = await rejection(renderTxt2Img(ort, folder, s, { ...base, prompt: 'a cat AND a dog AND a bird' }, { signal: controller.signal }));
    assert.ok(error instanceof RenderCancelled);
    // What the panel and the CLI say.
    assert.strictEqual(error.message, 'render cancelled');
    assert.deepStrictEqual([runs.textEncoder, runs.unet.length, runs.decoder.length], [1, 0, 0]);
  });

  it('cancelling on the last step still stops before the VAE decodes: no image comes back', async () => {
    const controller = new AbortController();
    const { sessions: s, runs } = watchedSessions();
    const steps: number[] = [];
    const error = await rejection(
      renderTxt2Img(ort, folder, s, base, {
        signal: controller.signal,
        onProgress: (p) => {
          steps.push(p.step);
          if (p.step === p.steps) controller.abort();
        },
      }),
    );
    assert.ok(error instanceof RenderCancelled);
    assert.deepStrictEqual([steps, runs.unet.length, runs.decoder.length], [[1, 2, 3], 6, 0]);
  });

  it('the timings (encode, denoise, decode) are each between 0 and the wall time of the render, and sum within it', async () => {
    const before = Date.now();
    const { timings } = await renderTxt2Img(ort, folder, sessions, base);
    const wall = Date.now() - before;
    for (const [stage, ms] of Object.entries(timings)) assert.ok(ms >= 0 && ms <= wall, `${stage}: ${ms} ms of a ${wall} ms render`);
    assert.ok(timings.encode + timings.denoise + timings.decode <= wall, `${JSON.stringify(timings)} in ${wall} ms`);
  });

  it("a prompt past 75 tokens renders the same whether or not the UNet declares its context width (a symbolic or absent dimension)", async () => {
    // 40 × 'a cat,' is 120 tokens: two chunks, a [1, 154, width] context for the UNet.
    const long = { ...base, prompt: Array(40).fill('a cat').join(', '), steps: 2 };
    const declared = await renderTxt2Img(ort, folder, sessions, long);
    const { sessions: s, runs } = watchedSessions();
    for (const shape of [['batch_size', 'sequence_length', 'hidden_size'], []]) {
      const inputs = new Map(s.unet.inputs);
      inputs.set('encoder_hidden_states', { ...inputs.get('encoder_hidden_states')!, shape });
      const undeclared = await renderTxt2Img(ort, folder, { ...s, unet: { ...s.unet, inputs } }, long);
      assert.deepStrictEqual(undeclared.rgb, declared.rgb, `UNet input shape ${JSON.stringify(shape)}`);
    }
    const width = runs.unet[0].context.length / 154;
    assert.deepStrictEqual([runs.unet.length, width], [2 * 2 * 2, sessions.unet.inputs.get('encoder_hidden_states')!.shape[2]]);
  });

  it('a text is encoded once per render: a negative prompt equal to the prompt, and a prompt-editing variant that repeats a text, share its encoding', async () => {
    const { sessions: s, runs } = watchedSessions();
    // Variants: 'a cat' (to step 1), 'a dog' (to 2), 'a cat' again (to 4); the negative prompt is 'a cat' too.
    await renderTxt2Img(ort, folder, s, { ...base, prompt: 'a [cat:[dog:cat:2]:1]', negativePrompt: 'a cat', steps: 4 });
    assert.deepStrictEqual([runs.textEncoder, contextsOf(runs, 2)], [2, [0, 0, 1, 0]]);
  });

  /**
   * Which text each UNet call's context is, as the index of its first appearance ([cat, dog] → 0, 1): every
   * `perCall`-th run from `first` (2 and 0: the prompt's of each model call; 2 and 1: the negative prompt's).
   */
  function contextsOf(runs: Runs, perCall: number, first = 0): number[] {
    const seen: Float32Array[] = [];
    const ids: number[] = [];
    for (let k = first; k < runs.unet.length; k += perCall) {
      const c = runs.unet[k].context;
      let id = seen.findIndex((s) => s.length === c.length && s.every((v, j) => v === c[j]));
      if (id < 0) id = seen.push(c) - 1;
      ids.push(id);
    }
    return ids;
  }

  it("prompt editing with a second-order sampler switches where A1111 does: its schedule spans twice the steps (Heun, [cat:dog:0.5])", async () => {
    const { sessions: s, runs } = watchedSessions();
    await renderTxt2Img(ort, folder, s, { ...base, prompt: 'a [cat:dog:0.5]', sampler: 'Heun', steps: 4 });
    // A1111: total_steps 8, the switch at int(0.5 × 8) = 4; CFGDenoiser counts model calls (Heun: 2 per step, 1 on the last):
    // calls 0-4 'a cat', 5-6 'a dog'.
    assert.deepStrictEqual(contextsOf(runs, 2), [0, 0, 0, 0, 0, 1, 1]);
  });

  it("past the schedule's last step (DPM adaptive's extra model calls) the conditioning is the schedule's first entry, as A1111's reconstruct_cond_batch falls back", async () => {
    const { sessions: s, runs } = watchedSessions();
    await renderTxt2Img(ort, folder, s, { ...base, prompt: 'a [cat:dog:0.5]', sampler: 'DPM adaptive', steps: 4 });
    // The schedule: 'a cat' to step 2 (int(0.5 × 4)), 'a dog' to step 4; DPM adaptive makes as many calls as its error control needs.
    const ids = contextsOf(runs, 2);
    assert.ok(ids.length > 6, `${ids.length} model calls`);
    assert.deepStrictEqual(ids, ids.map((_, call) => (call <= 2 ? 0 : call <= 4 ? 1 : 0)));
  });

  it("the infotext writes Model hash, VAE hash, VAE, Denoising strength, Clip skip, ENSD and Eta DDIM where A1111's create_infotext does", async () => {
    const file =
      'a cat\nNegative prompt: lowres\nSteps: 2, Sampler: DDIM, CFG scale: 7, Seed: 5, Size: 64x64, Variation seed: 9, Variation seed strength: 0.2, ' +
      'Clip skip: 2, ENSD: 31337, RNG: CPU, Eta DDIM: 0.5, Denoising strength: 0.4, Hires upscale: 2, Hires upscaler: Latent';
    const p: RenderParameters = { ...renderParameters(file, { model: root }), modelHash: '6ce0161689', vae: { name: 'vae-ft-mse-840000-ema-pruned', hash: '735e4c3a' } };
    const result = await renderTxt2Img(ort, folder, sessions, p);
    assert.strictEqual(
      result.infotext,
      'a cat\nNegative prompt: lowres\nSteps: 2, Sampler: DDIM, Schedule type: Automatic, CFG scale: 7, Seed: 5, Size: 64x64, ' +
        `Model hash: 6ce0161689, Model: ${path.basename(root)}, VAE hash: 735e4c3a, VAE: vae-ft-mse-840000-ema-pruned, ` +
        'Variation seed: 9, Variation seed strength: 0.2, Denoising strength: 0.4, Clip skip: 2, ENSD: 31337, RNG: CPU, ' +
        'Hires upscale: 2, Hires upscaler: Latent, Eta DDIM: 0.5, Version: sd-prompt',
    );
    assert.deepStrictEqual(result.notes, [
      "Hires. fix skipped: its second pass with DDIM (an img2img pass of A1111's timestep samplers) is not implemented; this is the first pass only, at 64x64 instead of 128x128.",
    ]);
    // DDIM's eta is Eta DDIM: the k-diffusion samplers' Eta does not decide whether it uses ENSD.
    const ddimEta0 = await renderTxt2Img(ort, folder, sessions, { ...p, hires: undefined, sampling: { ...p.sampling, etaDdim: 0, eta: 0.7 } });
    assert.doesNotMatch(ddimEta0.infotext, /ENSD/);
  });

  it('a file without a negative prompt renders as an empty negative prompt, from its parse as from bare prompts', async () => {
    const fromFile = renderParameters('a cat\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64', { model: root });
    const parsed = await renderTxt2Img(ort, folder, sessions, fromFile);
    const bare = await renderTxt2Img(ort, folder, sessions, { ...fromFile, parsed: undefined, negativePrompt: '' });
    assert.deepStrictEqual(parsed.rgb, bare.rgb);
  });

  it("a scheduler config the engine cannot use is an error naming the folder's scheduler_config.json", async () => {
    const broken: ModelFolder = { ...folder, schedulerConfig: { ...folder.schedulerConfig, beta_schedule: 'squaredcos_cap_v2' } };
    const error = await rejection(renderTxt2Img(ort, broken, sessions, base));
    assert.ok(
      error.message.endsWith(`${path.join(path.basename(root), 'scheduler', 'scheduler_config.json')}: beta_schedule "squaredcos_cap_v2" is not supported; expected scaled_linear or linear`),
      error.message,
    );
  });

  it('fp16 graphs (float16 outputs) render the picture the fp32 graphs of the same weights do, within half precision', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-fp16-'));
    try {
      generateTinyPipeline(dir, { ...TINY_SD15, dtype: 'fp16', tokenizerFrom: path.join(FIXTURES, 'clip') });
      const half = openModelFolder(dir);
      const s = await loadSessions(half, 'cpu', ort);
      try {
        const p = { ...base, steps: 2 };
        const [h, f] = [await renderTxt2Img(ort, half, s, p), await renderTxt2Img(ort, folder, sessions, p)];
        let worst = 0;
        for (let i = 0; i < f.rgb.length; i++) worst = Math.max(worst, Math.abs(h.rgb[i] - f.rgb[i]));
        // Half precision moved no pixel by more than 2 levels here.
        assert.ok(worst <= 6, `largest pixel difference ${worst}`);
      } finally {
        await s.release();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("DDIM CFG++ guides at the CFG scale / 12.5 (A1111's cond_scale_miltiplier) and steps along the negative prompt's eps", async () => {
    const calls: { timestep: number; sample: Float32Array; eps: Float32Array }[] = [];
    const unet = watched(sessions.unet, () => undefined, (feeds, results) =>
      calls.push({
        timestep: (feeds.timestep.data as Float32Array)[0],
        sample: Float32Array.from(feeds.sample.data as Float32Array),
        eps: Float32Array.from(results.out_sample.data as Float32Array),
      }),
    );
    const cfgScale = 7.5;
    await renderTxt2Img(ort, folder, { ...sessions, unet }, { ...base, sampler: 'DDIM CFG++', cfgScale, steps: 3 });
    // ᾱ of the folder's scheduler (scaled_linear, 0.00085 to 0.012 over 1000 steps).
    const alphasCumprod: number[] = [];
    for (let i = 0, prod = 1; i < 1000; i++) {
      const sqrtBeta = Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999;
      prod *= 1 - sqrtBeta * sqrtBeta;
      alphasCumprod.push(prod);
    }
    // The first step (sd_samplers_timesteps_impl.ddim_cfgpp, eta 0): calls 0 and 1 are the prompt's and the
    // negative prompt's eps at t; call 2 is the next step's sample, at the next timestep t'.
    const [cond, uncond, next] = calls;
    assert.deepStrictEqual([cond.timestep, uncond.timestep, calls.length], [uncond.timestep, cond.timestep, 6]);
    const aT = alphasCumprod[cond.timestep];
    const aPrev = alphasCumprod[next.timestep];
    const scale = cfgScale / 12.5;
    const expected = cond.sample.map((x, k) => {
      const eT = uncond.eps[k] + scale * (cond.eps[k] - uncond.eps[k]);
      const predX0 = (x - Math.sqrt(1 - aT) * eT) / Math.sqrt(aT);
      return Math.sqrt(aPrev) * predX0 + Math.sqrt(1 - aPrev) * uncond.eps[k];
    });
    next.sample.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) <= 1e-4 * Math.max(1, Math.abs(expected[k])), `latent value ${k}: ${v}, A1111's step gives ${expected[k]}`));
  });

  /** UNet runs per model call, in order (a model call's runs share its timestep). */
  function runsPerCall(runs: Runs): number[] {
    const counts: number[] = [];
    runs.unet.forEach((run, k) => (k > 0 && run.timestep === runs.unet[k - 1].timestep ? counts[counts.length - 1]++ : counts.push(1)));
    return counts;
  }

  it('NGMS skips the negative prompt on odd model calls whose sigma is strictly under it, every call with NGMS all steps', async () => {
    const p = { ...base, steps: 4 };
    const sigmas = createSampler('euler', 4, 'automatic', NoiseSchedule.fromConfig(folder.schedulerConfig)).sigmas;
    const counts = async (ngms: RenderParameters['ngms']) => {
      const { sessions: s, runs } = watchedSessions();
      const result = await renderTxt2Img(ort, folder, s, { ...p, ngms });
      return [runsPerCall(runs), result.infotext.slice(result.infotext.indexOf('Size:'))];
    };
    // A1111's CFGDenoiser: `self.step % 2 and sigma < s_min_uncond` (all steps: every call).
    assert.deepStrictEqual(await counts({ sMinUncond: 100, allSteps: false }), [[2, 1, 2, 1], 'Size: 64x64, Model: tiny-sd15, NGMS: 100, Version: sd-prompt']);
    assert.deepStrictEqual(await counts({ sMinUncond: 100, allSteps: true }), [[1, 1, 1, 1], 'Size: 64x64, Model: tiny-sd15, NGMS: 100, NGMS all steps: True, Version: sd-prompt']);
    // Call 1's sigma is the threshold itself: not under it, so only call 3 skips.
    assert.deepStrictEqual((await counts({ sMinUncond: sigmas[1], allSteps: false }))[0], [2, 2, 2, 1]);
    assert.deepStrictEqual(await counts({ sMinUncond: 0, allSteps: true }), [[2, 2, 2, 2], 'Size: 64x64, Model: tiny-sd15, Version: sd-prompt']);
  });

  /**
   * The second pass's first UNet input against A1111's sample_hr_pass with 'Latent (nearest)' ×2: (the first-pass
   * latent with each cell repeated 2 × 2 + a fresh generator's first draw at the new size × σ0) / sqrt(σ0² + 1)
   * (CompVisDenoiser's c_in). Fits sample = a·upscaled + b·noise; σ0 = b / a.
   */
  async function secondPassStart(f: ModelFolder, s0: ModelSessions, vaeScale: number): Promise<{ residual: number; sigma0: number; cIn: number; notes: string[] }> {
    const file = 'a cat\nNegative prompt: lowres\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 21, Size: 64x64';
    const watch = (runs: Runs): ModelSessions => ({
      ...s0,
      unet: watched(s0.unet, (feeds) => runs.unet.push({ context: new Float32Array(0), sample: Float32Array.from(feeds.sample.data as Float32Array), timestep: 0 })),
      vaeDecoder: watched(s0.vaeDecoder, (feeds) => runs.decoder.push(Float32Array.from(feeds.latent_sample.data as Float32Array))),
    });
    const firstRuns: Runs = { textEncoder: 0, unet: [], decoder: [] };
    await renderTxt2Img(ort, f, watch(firstRuns), renderParameters(file, { model: f.root }));
    const x = firstRuns.decoder[0].map((v) => v * vaeScale);
    const runs: Runs = { textEncoder: 0, unet: [], decoder: [] };
    const hires = ', Denoising strength: 0.36, Hires upscale: 2, Hires steps: 4, Hires upscaler: Latent (nearest), Hires schedule type: Align Your Steps';
    const result = await renderTxt2Img(ort, f, watch(runs), renderParameters(file + hires, { model: f.root }));
    assert.deepStrictEqual([result.width, result.height], [128, 128]);
    // The first pass's 2 calls × (prompt, negative prompt), then the second pass's first call.
    const sample = runs.unet[4].sample;
    const up = Float32Array.from({ length: 4 * 16 * 16 }, (_, i) => x[Math.floor(i / 256) * 64 + Math.floor((i % 256) / 32) * 8 + Math.floor((i % 16) / 2)]);
    const noise = renderImageRng({ seed: 21, width: 128, height: 128 }).next();
    let [uu, un, nn, us, ns] = [0, 0, 0, 0, 0];
    sample.forEach((v, i) => {
      uu += up[i] * up[i];
      un += up[i] * noise[i];
      nn += noise[i] * noise[i];
      us += up[i] * v;
      ns += noise[i] * v;
    });
    const det = uu * nn - un * un;
    const a = (us * nn - ns * un) / det;
    const b = (ns * uu - us * un) / det;
    let residual = 0;
    sample.forEach((v, i) => (residual = Math.max(residual, Math.abs(v - a * up[i] - b * noise[i]))));
    return { residual, sigma0: b / a, cIn: a, notes: result.notes };
  }

  it("Hires. fix's second pass starts from the upscaled first-pass latent plus its own noise at its first sigma (Align Your Steps: SD1.5's table)", async () => {
    const { residual, sigma0, cIn, notes } = await secondPassStart(folder, sessions, 0.18215);
    assert.deepStrictEqual(notes, []);
    assert.ok(residual < 1e-4, `the second pass's first input is not (upscaled latent + noise × σ) × c: off by ${residual}`);
    // img2img over int(4 / 0.36) = 11 steps (the Align Your Steps table itself) from index 11 − 3 − 1 = 7: SD1.5's 0.652 (SDXL's is 0.38).
    assert.ok(Math.abs(sigma0 - 0.652) < 1e-4 && Math.abs(cIn - 1 / Math.sqrt(0.652 ** 2 + 1)) < 1e-4, `σ0 ${sigma0}, c_in ${cIn}`);
  });

  it("an SDXL second pass takes SDXL's Align Your Steps table", async () => {
    const xl = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-xl-'));
    try {
      generateTinyPipeline(xl, { ...TINY_SDXL, tokenizerFrom: path.join(FIXTURES, 'clip') });
      const xlFolder = openModelFolder(xl);
      const xlSessions = await loadSessions(xlFolder, 'cpu', ort);
      try {
        const { residual, sigma0 } = await secondPassStart(xlFolder, xlSessions, 0.13025);
        assert.ok(residual < 1e-4 && Math.abs(sigma0 - 0.38) < 1e-4, `σ0 ${sigma0}, off by ${residual}`);
      } finally {
        await xlSessions.release();
      }
    } finally {
      fs.rmSync(xl, { recursive: true, force: true });
    }
  });

  it("the second pass's prompt editing spans the Hires sampler's own total steps (Heun: twice its steps), and a Hires negative prompt alone replaces the negative prompt there", async () => {
    const file =
      'a [cat:dog:1.5]\nNegative prompt: lowres\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 21, Size: 64x64, Denoising strength: 0.5, Hires upscale: 2, Hires steps: 4, ' +
      'Hires upscaler: Latent, Hires sampler: Heun, Hires negative prompt: blurry';
    const { sessions: s, runs } = watchedSessions();
    const result = await renderTxt2Img(ort, folder, s, renderParameters(file, { model: root }));
    // First pass: 1.5 × 2 steps is past its end, 'a cat' throughout. Second pass (A1111's calculate_hr_conds):
    // (1.5 − 1) × 8 = step 4 of Heun's 7 calls.
    assert.deepStrictEqual(contextsOf(runs, 2, 0), [0, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert.deepStrictEqual(contextsOf(runs, 2, 1), [0, 0, 1, 1, 1, 1, 1, 1, 1]);
    assert.ok(result.infotext.includes(', Hires sampler: Heun, Hires negative prompt: blurry, Hires upscale: 2, Hires steps: 4, Hires upscaler: Latent, '), result.infotext);
  });

  it('a clip skip the text encoder cannot give renders at clip skip 1, says why in the notes, and writes no Clip skip', async () => {
    // What loadSessions makes of an export whose final layer norm it cannot reuse (test/unit/sdGraphs/clipSkip.test.ts).
    const older: ModelSessions = {
      ...sessions,
      textEncoder: { ...sessions.textEncoder, outputs: sessions.textEncoder.outputs.filter((o) => !o.startsWith('normed_hidden_states.')) },
      clipSkipUnavailable: 'its final layer norm is not one LayerNormalization node',
    };
    const skipped = await renderTxt2Img(ort, folder, older, { ...base, steps: 1, clipSkip: 2 });
    assert.deepStrictEqual(skipped.notes, ['Clip skip 2 not applied (rendered with clip skip 1): its final layer norm is not one LayerNormalization node.']);
    assert.doesNotMatch(skipped.infotext, /Clip skip/);
    assert.deepStrictEqual(skipped.rgb, (await renderTxt2Img(ort, folder, sessions, { ...base, steps: 1 })).rgb);
  });

  it("Hires. fix keys are written where they differ from the first pass's, as A1111 compares them; a target under 8 pixels renders the first pass with a note", async () => {
    const file = 'a cat\nNegative prompt: lowres\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Denoising strength: 0.5, ';
    const render = (hires: string) => renderTxt2Img(ort, folder, sessions, renderParameters(file + hires, { model: root }));
    const same = await render('Hires upscale: 2, Hires steps: 1, Hires upscaler: Latent, Hires sampler: Euler, Hires prompt: a cat, Hires negative prompt: lowres, Hires schedule type: Automatic, Hires CFG Scale: 5');
    const size = (r: { infotext: string }) => r.infotext.slice(r.infotext.indexOf('Size:'));
    assert.deepStrictEqual(
      [same.width, same.notes, size(same)],
      [128, [], 'Size: 64x64, Model: ' + path.basename(root) + ', Denoising strength: 0.5, Hires upscale: 2, Hires steps: 1, Hires upscaler: Latent, Hires CFG Scale: 5, Version: sd-prompt'],
    );
    const differing = await render('Hires upscale: 2, Hires steps: 1, Hires upscaler: Latent, Hires sampler: Euler a, Hires prompt: a dog, Hires negative prompt: blurry, Hires schedule type: Karras');
    assert.strictEqual(
      size(differing),
      'Size: 64x64, Model: ' + path.basename(root) + ', Denoising strength: 0.5, Hires sampler: Euler a, Hires prompt: a dog, Hires negative prompt: blurry, Hires schedule type: Karras, ' +
        'Hires upscale: 2, Hires steps: 1, Hires upscaler: Latent, Version: sd-prompt',
    );
    const tiny = await render('Hires resize: 4x4, Hires upscaler: Latent');
    assert.deepStrictEqual(
      [tiny.width, tiny.notes, size(tiny)],
      [64, ['Hires. fix skipped: its target size 4x4 is under 8 pixels; this is the first pass only.'], 'Size: 64x64, Model: ' + path.basename(root) + ', Denoising strength: 0.5, Hires resize: 4x4, Hires upscaler: Latent, Version: sd-prompt'],
    );
  });

  it('a Hires resize with one side set writes Hires resize as given, and a target under 8 pixels on either side renders the first pass with a note', async () => {
    const render = async (size: string, resize: string) => {
      const r = await renderTxt2Img(ort, folder, sessions, renderParameters(`a cat\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 5, Size: ${size}, Denoising strength: 0.5, Hires resize: ${resize}, Hires upscaler: Latent`, { model: root }));
      return [r.width, r.height, r.notes, r.infotext.slice(r.infotext.indexOf('Denoising strength:'))];
    };
    // calculate_target_resolution: 16x0 from 64x16 keeps the aspect ratio, 16x4; 0x16 from 16x64, 4x16.
    assert.deepStrictEqual(await render('64x16', '16x0'), [
      64, 16, ['Hires. fix skipped: its target size 16x4 is under 8 pixels; this is the first pass only.'], 'Denoising strength: 0.5, Hires resize: 16x0, Hires upscaler: Latent, Version: sd-prompt',
    ]);
    assert.deepStrictEqual(await render('16x64', '0x16'), [
      16, 64, ['Hires. fix skipped: its target size 4x16 is under 8 pixels; this is the first pass only.'], 'Denoising strength: 0.5, Hires resize: 0x16, Hires upscaler: Latent, Version: sd-prompt',
    ]);
  });
});

describe('txt2img: a Hires. fix target of one latent pixel on a side (closed-form pipeline, which renders any size)', function () {
  this.timeout(60000);
  let root: string;
  let folder: ModelFolder;
  let sessions: ModelSessions;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-thin-'));
    generateTranscribablePipeline(root, path.join(FIXTURES, 'clip'));
    folder = openModelFolder(root);
    sessions = await loadSessions(folder, 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('8 pixels (one latent pixel) is enough: the second pass renders at 16x8 and 8x16, with no note', async () => {
    for (const [size, resize] of [['64x32', '16x8'], ['32x64', '8x16']]) {
      const r = await renderTxt2Img(ort, folder, sessions, renderParameters(`a cat\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 5, Size: ${size}, Denoising strength: 0.5, Hires resize: ${resize}, Hires upscaler: Latent`, { model: root }));
      assert.deepStrictEqual([`${r.width}x${r.height}`, r.notes, r.rgb.length], [resize, [], 16 * 8 * 3]);
    }
  });
});
