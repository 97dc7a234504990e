import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { renderSessionOptions } from '../model/sessions';
import { SdArchitecture, WeightSource } from '../sdGraphs/architecture';
import { checkpointGraphs, defaultGraphCacheRoot, fileIdentity } from '../sdGraphs/graphFiles';
import { graphSessionOptions } from '../sdGraphs/graphSessions';
import { SD2_V_PREDICTION_PROBE } from './prediction';

type Ort = typeof import('onnxruntime-node');

/**
 * A1111's test of an SD2 checkpoint for v-prediction (modules/sd_models_config.py
 * `is_using_v_parameterization_for_sd2`), run on our own UNet graph over the checkpoint's bytes: the UNet in
 * float32 on the CPU, x = ones(1, 4, 8, 8) × 0.5, t = [999], context = ones(1, 2, contextDim) × 0.5, and v when
 * mean(unet(x, t, context) − x) < −1. No random numbers are drawn: every input is a constant.
 *
 * It costs one graph build (graphs only, no weights) and one UNet step at 8×8, so the answer is kept in the graph
 * cache folder, one small JSON per checkpoint keyed like the graphs (path, size, mtime, partial hash): loading the
 * same file again reads it instead of running the UNet. The probe's graphs are built in a scratch folder and
 * removed; the render builds its own (its cache key includes the prediction this decides). The session is the CPU
 * render's (no arena, no pre-packed copies): for a real SD2 UNet that keeps the probe near its fp32 weights' size.
 */

/** Bump when the probe could answer differently for the same file (its inputs, its graph): older answers are not used. */
const PROBE_FORMAT = 1;

export interface Sd2ProbeOptions {
  /** The graph cache root the answer is kept in; default `defaultGraphCacheRoot()`. */
  cacheRoot?: string;
  /** onnxruntime-node, loaded when first needed. */
  ort?: Ort;
}

export interface Sd2ProbeResult {
  prediction: SdArchitecture['prediction'];
  /** mean(unet(x) − x), the number A1111 compares with −1. */
  meanOffset: number;
  /** True when the answer came from the cache (the UNet did not run). */
  cached: boolean;
}

interface CachedAnswer {
  format: number;
  checkpoint: string;
  identity: string;
  prediction: SdArchitecture['prediction'];
  meanOffset: number;
}

let unetRuns = 0;

/** How many times the probe ran a UNet in this process (tests check that a cached answer runs none). */
export function sd2ProbeUnetRuns(): number {
  return unetRuns;
}

function answerFile(root: string, checkpoint: string): string {
  const name = crypto.createHash('sha256').update(checkpoint).digest('hex').slice(0, 20);
  return path.join(root, `sd2-prediction-${name}.json`);
}

function readAnswer(file: string, checkpoint: string, identity: string): CachedAnswer | undefined {
  try {
    const answer = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedAnswer;
    const valid =
      answer.format === PROBE_FORMAT &&
      answer.checkpoint === checkpoint &&
      answer.identity === identity &&
      (answer.prediction === 'epsilon' || answer.prediction === 'v_prediction');
    return valid ? answer : undefined;
  } catch {
    return undefined;
  }
}

/** Runs A1111's probe on the checkpoint's UNet (or reads its cached answer). `arch` must be an SD2 architecture. */
export async function probeSd2Prediction(
  checkpointPath: string,
  arch: SdArchitecture,
  source: WeightSource,
  options: Sd2ProbeOptions = {},
): Promise<Sd2ProbeResult> {
  const root = options.cacheRoot ?? defaultGraphCacheRoot();
  const checkpoint = path.resolve(checkpointPath);
  const identity = fileIdentity(checkpoint);
  const cacheFile = answerFile(root, checkpoint);
  const known = readAnswer(cacheFile, checkpoint, identity);
  if (known) return { prediction: known.prediction, meanOffset: known.meanOffset, cached: true };

  const ort = options.ort ?? (require('onnxruntime-node') as Ort);
  fs.mkdirSync(root, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(root, '.sd2-probe-'));
  let meanOffset: number;
  try {
    // The prediction is not part of the UNet graph; a fixed value keeps the scratch build independent of it.
    const graphs = checkpointGraphs({ checkpoint, architecture: { ...arch, prediction: 'epsilon' }, source, dtype: 'float32', cacheRoot: scratch });
    const unet = graphs.graphs.unet;
    if (!unet) throw new Error(`${checkpoint}: no UNet graph was built`);
    const session = await ort.InferenceSession.create(unet.model, graphSessionOptions(unet, renderSessionOptions('cpu')));
    try {
      meanOffset = await runProbe(ort, session, arch);
    } finally {
      await session.release().catch(() => undefined);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const prediction = meanOffset < SD2_V_PREDICTION_PROBE.threshold ? 'v_prediction' : 'epsilon';
  const answer: CachedAnswer = { format: PROBE_FORMAT, checkpoint, identity, prediction, meanOffset };
  try {
    // Written whole then renamed, so a concurrent load never reads half an answer.
    const partial = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(partial, JSON.stringify(answer));
    fs.renameSync(partial, cacheFile);
  } catch {
    // A read-only cache costs a probe per load, not the load.
  }
  return { prediction, meanOffset, cached: false };
}

async function runProbe(ort: Ort, session: InferenceSession, arch: SdArchitecture): Promise<number> {
  const probe = SD2_V_PREDICTION_PROBE;
  const [, channels, height, width] = probe.sample.shape;
  const contextDim = arch.unet.contextDim;
  const feeds: Record<string, Tensor> = {
    sample: new ort.Tensor('float32', new Float32Array(channels * height * width).fill(probe.sample.value), probe.sample.shape),
    timestep: new ort.Tensor('float32', new Float32Array([probe.timestep]), [1]),
    encoder_hidden_states: new ort.Tensor(
      'float32',
      new Float32Array(probe.context.tokens * contextDim).fill(probe.context.value),
      [1, probe.context.tokens, contextDim],
    ),
  };
  unetRuns++;
  const outputs = await session.run(feeds);
  const output = outputs[session.outputNames[0]];
  try {
    return probe.meanOffset(output.data as Float32Array);
  } finally {
    for (const tensor of Object.values(outputs)) tensor.dispose?.();
  }
}
