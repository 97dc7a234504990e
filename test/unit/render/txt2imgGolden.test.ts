import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { GraphIo, loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTranscribablePipeline, TRANSCRIBABLE_WIDTH, transcribableWeights } from '../../../server/src/render/testModel/transcribablePipeline';
import { FIXTURES } from '../fixtures';

/*
 * The render loop against an independent transcription: test/golden/txt2img.json holds what A1111's
 * txt2img gives on the closed-form pipeline of transcribablePipeline.ts, computed in numpy by
 * scripts/golden/txt2img.py (how to regenerate: scripts/golden/README.md). The pipeline's noise is
 * an input of the script, so this tests the loop: conditioning (chunks, emphasis and its mean
 * restore, AND parts, the negative prompt), the prompt-editing schedule step by step, CFG, the
 * samplers and the decoding.
 *
 * What the UNet and the VAE decoder are given is read by wrapping their sessions: per UNet call the
 * sample, the timestep and the context (its length and its mean over the sequence, which is all
 * this UNet looks at). Float32 latents against numpy's float64 loop: within 1e-4 relative.
 */
const TOLERANCE = 1e-4;

interface GoldenCall {
  timestep: number;
  sample: number[];
  contexts: { tokens: number; mean: number[] }[];
}

interface GoldenCase {
  name: string;
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: string;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  unetCalls: GoldenCall[];
  decoderInput: number[];
  decoderOutput: number[];
  pixels: number[];
}

const GOLDEN: { weightSums: Record<string, number>; cases: GoldenCase[] } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../test/golden/txt2img.json'), 'utf8'));

interface UnetCall {
  timestep: number;
  sample: Float32Array;
  contextTokens: number;
  contextMean: number[];
}

/** Float data of a feed or result tensor (the transcribable graphs are float32). */
function floats(t: Tensor): Float32Array {
  return t.data as Float32Array;
}

/** The same graph, with every run's feeds and results handed to `onRun` first. */
function recording(io: GraphIo, onRun: (feeds: Record<string, Tensor>, results: Record<string, Tensor>) => void): GraphIo {
  const real = io.session;
  const session = Object.create(real) as InferenceSession;
  session.run = (async (feeds: Record<string, Tensor>) => {
    const results = await real.run(feeds);
    onRun(feeds, results as Record<string, Tensor>);
    return results;
  }) as InferenceSession['run'];
  return { ...io, session };
}

/** |actual − expected| ≤ tol·max(1, |expected|) for every entry. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= TOLERANCE * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]}, the transcription says ${expected[i]} (off by ${err.toExponential(2)})`);
  }
}

describe('txt2img against the numpy transcription of A1111 (test/golden/txt2img.json)', function () {
  this.timeout(60000);
  let root: string;
  let sessions: ModelSessions;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-golden-'));
    generateTranscribablePipeline(root, path.join(FIXTURES, 'clip'));
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  async function render(golden: GoldenCase) {
    const unetCalls: UnetCall[] = [];
    let decoderInput: Float32Array | undefined;
    let decoderOutput: Float32Array | undefined;
    const unet = recording(sessions.unet, (feeds) => {
      const context = floats(feeds.encoder_hidden_states);
      const tokens = context.length / TRANSCRIBABLE_WIDTH;
      const mean = new Array<number>(TRANSCRIBABLE_WIDTH).fill(0);
      for (let t = 0; t < tokens; t++) for (let j = 0; j < TRANSCRIBABLE_WIDTH; j++) mean[j] += context[t * TRANSCRIBABLE_WIDTH + j] / tokens;
      unetCalls.push({ timestep: floats(feeds.timestep)[0], sample: Float32Array.from(floats(feeds.sample)), contextTokens: tokens, contextMean: mean });
    });
    const vaeDecoder = recording(sessions.vaeDecoder, (feeds, results) => {
      decoderInput = Float32Array.from(floats(feeds.latent_sample));
      decoderOutput = Float32Array.from(floats(results.sample));
    });
    const outcome = await renderTxt2Img(ort, openModelFolder(root), { ...sessions, unet, vaeDecoder }, { ...golden, modelName: 'transcribable' });
    return { unetCalls, decoderInput: decoderInput!, decoderOutput: decoderOutput!, rgb: outcome.rgb };
  }

  it('the goldens were made from the weights the generator makes now', () => {
    const sums = Object.fromEntries(Object.entries(transcribableWeights()).map(([name, w]) => [name, w.data.reduce((a, b) => a + b, 0)]));
    assert.deepStrictEqual(Object.keys(sums).sort(), Object.keys(GOLDEN.weightSums));
    for (const [name, sum] of Object.entries(GOLDEN.weightSums)) {
      assert.ok(Math.abs(sums[name] - sum) <= 1e-9 * Math.max(1, Math.abs(sum)), `${name}: sums to ${sums[name]}, the goldens' to ${sum}: the generator changed, regenerate them (scripts/golden/README.md)`);
    }
  });

  for (const golden of GOLDEN.cases) {
    it(`${golden.name}: ${JSON.stringify(golden.prompt)}, negative ${JSON.stringify(golden.negativePrompt)}, ${golden.sampler}, ${golden.steps} steps, CFG ${golden.cfgScale}`, async () => {
      const got = await render(golden);
      const expectedCalls = golden.unetCalls.reduce((n, step) => n + step.contexts.length, 0);
      assert.strictEqual(got.unetCalls.length, expectedCalls, 'UNet calls (AND parts and the negative prompt, per step)');
      let next = 0;
      golden.unetCalls.forEach((step, i) => {
        step.contexts.forEach((context, k) => {
          const call = got.unetCalls[next++];
          const what = `step ${i}, UNet call ${k} (${k < step.contexts.length - 1 ? `AND part ${k}` : 'negative prompt'})`;
          assertClose([call.timestep], [step.timestep], `${what}: timestep`);
          assertClose(call.sample, step.sample, `${what}: sample`);
          assert.strictEqual(call.contextTokens, context.tokens, `${what}: context length`);
          assertClose(call.contextMean, context.mean, `${what}: context mean`);
        });
      });
      assertClose(got.decoderInput, golden.decoderInput, 'VAE decoder input');
      const h = golden.height / 8;
      const w = golden.width / 8;
      const atCells = (plane: (c: number, y: number, x: number) => number) =>
        Array.from({ length: 3 * h * w }, (_, i) => plane(Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w));
      assertClose(
        atCells((c, y, x) => got.decoderOutput[c * golden.width * golden.height + y * 8 * golden.width + x * 8]),
        golden.decoderOutput,
        'VAE decoder output',
      );
      // A1111 truncates to uint8; a value within float noise of a whole number may go either way.
      atCells((c, y, x) => got.rgb[(y * 8 * golden.width + x * 8) * 3 + c]).forEach((pixel, i) => {
        const exact = golden.pixels[i];
        const allowed = new Set([Math.floor(Math.max(0, exact - 0.01)), Math.floor(Math.min(255, exact + 0.01))]);
        assert.ok(allowed.has(pixel), `pixel value ${i} (channel, row, column order): ${pixel}, A1111 gives ${[...allowed].join(' or ')} (${exact.toFixed(3)} truncated)`);
      });
    });
  }
});
