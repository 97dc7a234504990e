import { ModelBuilder } from '../onnx/onnxWriter';
import type { ExecutionProvider } from '../onnx/devices';
import { FloatType, FusedForms, GraphWeights, LinearRecord, Net } from './net';

export type { FusedForms };

/** What every graph builder takes besides its architecture. */
export interface GraphOptions {
  /** The type the graph computes in; weights stored in another type are cast. */
  dtype: FloatType;
  weights: GraphWeights;
  /** onnxruntime contrib ops instead of the plain form: `true` is every form in FusedForms. */
  fused?: boolean | FusedForms;
}

/** A built graph (weights made or referenced only when written) and the Linear/Conv weights in it. */
export interface BuiltGraph {
  model: ModelBuilder;
  linears: LinearRecord[];
}

/** `fused` as the forms it switches on (`true`: all of them). */
export function fusedFormsOf(fused: boolean | FusedForms | undefined): Required<FusedForms> {
  if (fused === true) return { attention: true, skipLayerNorm: true, gelu: true };
  if (!fused) return { attention: false, skipLayerNorm: false, gelu: false };
  return { attention: fused.attention ?? false, skipLayerNorm: fused.skipLayerNorm ?? false, gelu: fused.gelu ?? false };
}

/** Opset 17: torch's default export opset for SD, and the first with LayerNormalization (plus onnxruntime's contrib ops when fused). */
export function newModel(options?: GraphOptions): ModelBuilder {
  const model = new ModelBuilder(17, 'main_graph');
  if (Object.values(fusedFormsOf(options?.fused)).some((on) => on)) model.opsets.set('com.microsoft', 1);
  return model;
}

/** The layer helpers for a graph with these options. */
export function newNet(model: ModelBuilder, options: GraphOptions): Net {
  return new Net(model.graph, options.dtype, options.weights, 1000, fusedFormsOf(options.fused));
}

/** The form of a checkpoint's graphs: the type they compute in and the contrib ops they use. */
export interface GraphForm {
  dtype: FloatType;
  fused: Required<FusedForms>;
}

export const PLAIN_FORM: GraphForm = { dtype: 'float32', fused: fusedFormsOf(false) };

/**
 * The one place that decides each device's graph form. What each EP registers (onnxruntime 1.30's contrib
 * kernels, probed on CPU and WebGPU with one-node graphs in test/unit/sdGraphs/fusedFormsOps.test.ts; CUDA and
 * DML from onnxruntime's registration tables, not run here):
 *  - cpu: fp32 (fp16 has no fast x86 CPU kernels) with MultiHeadAttention only: it took 0.50-0.70× the plain
 *    UNet step in bench/fusedGraphs.bench.ts, while SkipLayerNormalization and Gelu gained nothing measurable
 *    (the CPU EP's own optimizer fuses the plain Add+LayerNorm and erf-Gelu patterns already).
 *    MultiHeadAttention agrees with the plain form within 1e-4 there (fusedForms.test.ts).
 *  - webgpu, cuda, dml: fp16 with MultiHeadAttention, SkipLayerNormalization and Gelu.
 *  - coreml: plain fp32 (contrib ops are not CoreML ops: they would split the graph between CoreML and CPU).
 * com.microsoft GroupNorm is emitted for none: it is NHWC (a transpose each side of every norm), the CPU EP has
 * no kernel and WebGPU fails to create the session; only CUDA (and DML) register it.
 */
const FORMS: Record<ExecutionProvider, GraphForm> = {
  cpu: { dtype: 'float32', fused: fusedFormsOf({ attention: true }) },
  coreml: PLAIN_FORM,
  webgpu: { dtype: 'float16', fused: fusedFormsOf(true) },
  cuda: { dtype: 'float16', fused: fusedFormsOf(true) },
  dml: { dtype: 'float16', fused: fusedFormsOf(true) },
};

/** The override's values (`SD_PROMPT_GRAPH_FORM`): for tests and for telling a fused-op bug from a model's. */
export const GRAPH_FORM_OVERRIDES = ['plain', 'fused', 'fp16', 'fp16-fused'] as const;
export type GraphFormOverride = (typeof GRAPH_FORM_OVERRIDES)[number];

/** The form for `device`; `override` (default: the SD_PROMPT_GRAPH_FORM environment variable) replaces the table's choice. */
export function graphFormFor(device: ExecutionProvider, override: string | undefined = process.env.SD_PROMPT_GRAPH_FORM): GraphForm {
  if (override === undefined || override === '') return FORMS[device] ?? PLAIN_FORM;
  if (!(GRAPH_FORM_OVERRIDES as readonly string[]).includes(override)) {
    throw new Error(`SD_PROMPT_GRAPH_FORM=${override} is not a graph form. Known: ${GRAPH_FORM_OVERRIDES.join(', ')}.`);
  }
  const fused = override.endsWith('fused');
  return { dtype: override.startsWith('fp16') ? 'float16' : 'float32', fused: fusedFormsOf(fused) };
}

/** A form in words, for the render's notes and the cache entry: `fp16 + MultiHeadAttention, SkipLayerNormalization, Gelu`. */
export function describeForm(form: GraphForm): string {
  const ops = [form.fused.attention && 'MultiHeadAttention', form.fused.skipLayerNorm && 'SkipLayerNormalization', form.fused.gelu && 'Gelu'].filter(Boolean);
  return `${form.dtype === 'float16' ? 'fp16' : 'fp32'}${ops.length ? ` + ${ops.join(', ')}` : ' plain'}`;
}
