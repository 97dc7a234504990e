import * as fs from 'fs';
import { LoraComponent, LoraModule } from '../lora/loraKeys';
import { deltaBias, deltaWeight, isLoraMathError, lowRankFactors, transpose } from '../lora/loraMath';
import { LoraTensor } from '../lora/loraTensors';
import type { LoraInput } from '../lora/prepare';
import type { ComponentMergeReport } from '../../../../common/src/mergeReport';
import { DeltaCache } from './deltaCache';
import { MergeKernel } from './mergeKernel';
import { MergeScratch } from './mergeScratch';
import { GraphCache, parseGraph } from '../onnx/graphCache';
import { OnnxInitializer, WeightEntry } from '../onnx/onnxIndex';
import { fromFloat16 } from '../onnx/half';
import { maxAbs, overflowMessage } from '../lora/nonFinite';

/**
 * Merging LoRAs (lora/prepare.ts's LoraInput) into one ONNX graph (design §4): each LoRA module lands on the initializer of its
 * diffusers module path, in the initializer's own layout (from its op, never its shape). Every
 * module becomes a delta ΔW at multiplier 1 (a low-rank product through MergeKernel's Gemm, every
 * other kind in JS), kept in the DeltaCache so that a weight change only re-adds it. Per weight, the
 * deltas times their multipliers are added to the base weight in fp32 (MergeScratch) and rounded
 * once into its dtype. Only the patched weights are read and written: the result is their new bytes, which
 * mergedModelFiles.ts points the model at while every other weight stays in the user's files.
 * LoraMerger (loraMerger.ts) is the way in from outside render/merge/.
 */

/** A weight the merge changes: its initializer and how many bytes it has. */
export interface PatchedWeight {
  initializer: string;
  length: number;
  /**
   * For a de-duplicated weight's twin (`WeightEntry.twinOf`): the stored initializer it shares. The twin
   * becomes an initializer of its own, so the other modules of that weight keep theirs as they were.
   */
  copyOf?: string;
}

/**
 * What merging LoRAs into one graph does, worked out but not yet computed: the reports, and for
 * each patched weight its factors and deltas. `compute` then produces the new weights a block at a
 * time into reused buffers, so the caller writes them where they go (into model bytes for a
 * session, or a file) and no second copy of them is ever held.
 */
export interface MergedGraph {
  /** The model file the merge read; its other weights stay where they are. */
  modelFile: string;
  /** Every initializer of the model with where its bytes lie (parsed once, by the merge). */
  initializers: readonly OnnxInitializer[];
  patches: PatchedWeight[];
  reports: ComponentMergeReport[];
  /**
   * Calls `sink` with the patched weights' new bytes, a block at a time: `bytes` are the patch's bytes
   * from byte `at`. Patches come in `patches` order and each patch's blocks in order, its first at 0;
   * the bytes are valid until `sink` returns (or the promise it returns settles).
   */
  compute(sink: (patch: PatchedWeight, bytes: Uint8Array, at: number) => void | Promise<void>): Promise<void>;
}

export interface MergeContext {
  kernel: MergeKernel;
  /** Keeps every module's delta between merges (a weight change then only re-adds them). */
  cache?: DeltaCache;
  /** The buffers weights are merged in, kept between merges (else one per merge). */
  scratch?: MergeScratch;
  /** Keeps parsed graphs between merges (a weight change then does not parse the model again). */
  graphs?: GraphCache;
}

/** What a module's delta is cached under: the LoRA file's identity, the graph, the module, and `dyn`. */
export function deltaKey(lora: Pick<LoraInput, 'id' | 'name' | 'dyn'>, modelFile: string, module: string): string {
  return `${lora.id ?? lora.name}|${modelFile}|${module}|${lora.dyn ?? ''}`;
}

/** The torch layout [out, in(, kh, kw)] of a weight, from how its op uses it. */
export function torchShape(entry: WeightEntry): number[] {
  return entry.layout === 'in_out' ? [entry.dims[1], entry.dims[0]] : entry.dims;
}

/**
 * What goes onto one weight: deltas at multiplier 1 in its layout, each with its multiplier. A
 * low-rank module's delta is its factors until the merge computes (or finds cached) their product.
 */
interface WeightPlan {
  entry: WeightEntry;
  terms: Term[];
}

interface Term {
  key: string;
  multiplier: number;
  delta: Float32Array | LowRank;
}

interface LowRank {
  up: Float32Array;
  down: Float32Array;
  rank: number;
  scale: number;
}

export async function mergeIntoGraph(modelFile: string, component: LoraComponent, loras: LoraInput[], context: MergeContext): Promise<MergedGraph> {
  const { model, index } = context.graphs?.get(modelFile) ?? parseGraph(modelFile);
  if (index.fused) throw new Error(index.fused.message);
  context.cache?.beginMerge();
  const plans = new Map<string, WeightPlan>();
  const reports: ComponentMergeReport[] = [];
  const reader = new WeightReader(modelFile);
  try {
    for (const lora of loras) {
      const report: ComponentMergeReport = { name: lora.name, matched: 0, unmatched: [], mismatched: [] };
      reports.push(report);
      const multiplier = component === 'unet' ? lora.unet : lora.te;
      // This LoRA's terms join the plans only once all its modules are known to be finite.
      const terms: { entry: WeightEntry; term: Term }[] = [];
      for (const module of lora.modules) {
        if (module.component !== component) continue;
        const entry = index.byModule.get(module.module);
        if (!entry) {
          report.unmatched.push(module.module);
          continue;
        }
        if (!MERGEABLE.has(entry.dtype)) {
          report.mismatched.push(`${component}:${module.module}: cannot merge into its ${entry.dtype} weight ${entry.initializer}`);
          continue;
        }
        const shape = torchShape(entry);
        // What a stored value may reach: beyond it the weight holds Inf (or NaN), and so does every image.
        const limit = limitOf(entry.dtype);
        // ΔW at multiplier 1 (linear in it, DoRA included), in the weight's layout; dyn changes it.
        const key = deltaKey(lora, modelFile, module.module);
        const factors = lowRankFactors(module, shape, lora.dyn);
        if (isLoraMathError(factors)) {
          report.mismatched.push(factors.error);
          continue;
        }
        if (factors) {
          report.matched++;
          if (multiplier === 0) continue;
          let lowRank: Float32Array | LowRank = factors;
          if (!(productBound(factors) * Math.abs(multiplier) < limit)) {
            // The factors are finite but their product might not be: compute it now and look.
            const product = context.cache?.get(key) ?? (await productOf(factors, entry, context.kernel));
            context.cache?.set(key, product);
            if (!(maxAbs(product) * Math.abs(multiplier) < limit)) {
              report.refused = overflowMessage(module, multiplier, limitName(entry.dtype));
              break;
            }
            lowRank = product;
          }
          terms.push({ entry, term: { key, multiplier, delta: lowRank } });
          continue;
        }
        let delta = context.cache?.get(key);
        if (!delta) {
          // DoRA normalises W + ΔW, so it needs the module's current weight (torch layout).
          const baseWeight = module.tensors.doraScale ? toTorchLayout(await reader.float32(entry), entry) : undefined;
          const computed = deltaWeight(module, 1, shape, { baseWeight, dyn: lora.dyn });
          if (isLoraMathError(computed)) {
            report.mismatched.push(computed.error);
            continue;
          }
          delta = entry.layout === 'in_out' ? transpose(computed, shape[0], shape[1]) : computed;
          context.cache?.set(key, delta);
        }
        report.matched++;
        if (multiplier === 0) continue;
        if (!(maxAbs(delta) * Math.abs(multiplier) < limit)) {
          report.refused = overflowMessage(module, multiplier, limitName(entry.dtype));
          break;
        }
        terms.push({ entry, term: { key, multiplier, delta } });
        if (module.tensors.diffBias !== undefined) {
          // diff_b (kohya full / LyCORIS): the bias changes by diff_b times the multiplier, no scale.
          const bias = biasDelta(module, entry, multiplier, component);
          if (typeof bias === 'string') report.mismatched.push(bias);
          else if (!(maxAbs(bias.term.delta as Float32Array) * Math.abs(multiplier) < limitOf(bias.entry.dtype))) {
            report.refused = overflowMessage(module, multiplier, limitName(bias.entry.dtype));
            break;
          } else terms.push(bias);
        }
      }
      if (report.refused !== undefined) {
        report.matched = 0;
        continue;
      }
      for (const { entry, term } of terms) {
        let plan = plans.get(entry.initializer);
        if (!plan) plans.set(entry.initializer, (plan = { entry, terms: [] }));
        plan.terms.push(term);
      }
    }
  } finally {
    await reader.close();
  }
  // A shared weight patched for one module must stay as it was for its twins: each twin of a patched
  // weight is written as a copy of its own, unpatched unless a LoRA patches it too. (A patched twin
  // already gets its own copy and leaves the shared weight alone.)
  for (const plan of [...plans.values()]) {
    if (plan.entry.twinOf !== undefined) continue;
    for (const twin of index.weights) {
      if (twin.twinOf === plan.entry.initializer && !plans.has(twin.initializer)) plans.set(twin.initializer, { entry: twin, terms: [] });
    }
  }
  const planned = [...plans.values()];
  return {
    modelFile,
    initializers: model.graph.initializers,
    reports,
    patches: planned.map((p) => ({ initializer: p.entry.initializer, length: p.entry.location.length, ...(p.entry.twinOf !== undefined ? { copyOf: p.entry.twinOf } : {}) })),
    compute: async (sink) => {
      const weights = new WeightReader(modelFile);
      const scratch = context.scratch ?? new MergeScratch();
      // Each weight goes through in blocks: some are read, one merged and the ones before it written, in
      // BLOCKS_IN_TURN slots; the two slots after them, side by side, sum an fp16 block's deltas in fp32.
      // onnxruntime-node runs a session on the calling thread, so the reads and writes run on libuv's
      // threads while this thread adds.
      const slots = scratch.reserve(BLOCK_BYTES, BLOCKS_IN_TURN + 2);
      const [sumFrom, sumTo] = [slots[BLOCKS_IN_TURN], slots[BLOCKS_IN_TURN + 1]];
      const fp16Sum = new Uint8Array(sumFrom.buffer, sumFrom.byteOffset, sumTo.byteOffset + sumTo.byteLength - sumFrom.byteOffset);
      const blocks = planned.flatMap((plan, weight) =>
        Array.from({ length: Math.ceil(plan.entry.location.length / BLOCK_BYTES) }, (_, b) => {
          const at = b * BLOCK_BYTES;
          return { weight, at, length: Math.min(BLOCK_BYTES, plan.entry.location.length - at) };
        }),
      );
      const slotOf = (k: number) => slots[k % BLOCKS_IN_TURN].subarray(0, blocks[k].length);
      const reads: Promise<void>[] = [];
      const sinks: Promise<void>[] = [];
      const settled = <T>(p: Promise<T>) => (p.catch(() => undefined), p);
      const readAhead = async (k: number) => {
        if (k >= blocks.length) return;
        // Block k goes into the slot of block k−BLOCKS_IN_TURN, once that one is written.
        await sinks[k - BLOCKS_IN_TURN];
        reads[k] = settled(weights.read(planned[blocks[k].weight].entry, slotOf(k), blocks[k].at));
      };
      // Products not kept yet are asked of the helper threads ahead of the weight this thread merges, so
      // they compute while it reads, adds and waits on the file write (none without helpers: this thread
      // would compute them anyway).
      const helpers = context.kernel.helperThreads;
      const asked = new AskedProducts(context.kernel);
      let nextToAsk = 0;
      const askAhead = (i: number) => {
        while (helpers > 0 && nextToAsk < planned.length && (nextToAsk < i + 2 * helpers || asked.bytes < PRODUCTS_AHEAD_BYTES)) {
          const plan = planned[nextToAsk++];
          for (const term of plan.terms) if (!context.cache?.has(term.key)) asked.ask(term, plan.entry);
        }
      };
      let deltas: Float32Array[] = [];
      try {
        for (let k = 0; k < READS_AHEAD; k++) await readAhead(k);
        for (let k = 0; k < blocks.length; k++) {
          const { weight, at } = blocks[k];
          const plan = planned[weight];
          if (at === 0) {
            askAhead(weight);
            deltas = [];
            for (const term of plan.terms) deltas.push(await termDelta(term, plan.entry, context, asked));
          }
          await reads[k];
          const bytes = slotOf(k);
          mergeBlock(plan, bytes, at, deltas, scratch, fp16Sum);
          sinks.push(settled(Promise.resolve(sink({ initializer: plan.entry.initializer, length: plan.entry.location.length }, bytes, at))));
          await readAhead(k + READS_AHEAD);
        }
        await Promise.all(sinks);
      } finally {
        await Promise.allSettled([...reads, ...sinks]);
        await weights.close();
      }
    },
  };
}

/**
 * How a merge moves weights through memory: in blocks of BLOCK_BYTES, READS_AHEAD of them read ahead of
 * the one being added and the rest of BLOCKS_IN_TURN being written. A block read, added and written while
 * it is still in cache saves a trip to main memory each way: an SD1.5 UNet re-merge's reads, adds and
 * writes took 0.42-0.46 s so on the 2-core dev machine, against 0.53-0.57 s a whole weight at a time
 * (up to 26 MB, three in turn). 1 and 4 MiB blocks, and four or six in turn, were no faster.
 */
const BLOCK_BYTES = 2 * 2 ** 20;
const BLOCKS_IN_TURN = 8;
const READS_AHEAD = 4;

/**
 * `bytes` (a slot of the scratch memory) holds the base weight's bytes from `at` and receives the merged
 * ones: the sum of the base and every term's delta times its multiplier, in fp32. For an fp16 weight the
 * deltas are summed in `fp16Sum` and that sum is added to the base and rounded to fp16 once, in place.
 */
function mergeBlock(plan: WeightPlan, bytes: Uint8Array, at: number, deltas: Float32Array[], scratch: MergeScratch, fp16Sum: Uint8Array): void {
  const half = plan.entry.dtype === 'float16';
  const size = half || plan.entry.dtype === 'bfloat16' ? 2 : 4;
  const [from, n] = [at / size, bytes.length / size];
  if (plan.entry.dtype === 'bfloat16') {
    // Rare (bf16 checkpoints): summed in fp32 like fp16's, then added and rounded in JS.
    const sum = scratch.floats(fp16Sum, n).fill(0);
    plan.terms.forEach((term, t) => scratch.addScaled(sum, deltas[t].subarray(from, from + n), term.multiplier));
    addToBfloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, n), sum);
    return;
  }
  if (half && plan.terms.length === 1) {
    // One term (one LoRA on this weight): the same bits in one pass, with no sum in between.
    scratch.addScaledToHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, n), deltas[0].subarray(from, from + n), plan.terms[0].multiplier);
    return;
  }
  const sum = half ? scratch.floats(fp16Sum, n).fill(0) : scratch.floats(bytes, n);
  plan.terms.forEach((term, t) => scratch.addScaled(sum, deltas[t].subarray(from, from + n), term.multiplier));
  if (half) scratch.addToHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, n), sum);
}

/** A module's diff_b as a term on its bias initializer (patched like a weight of one row), or why it cannot be. */
function biasDelta(module: LoraModule<LoraTensor>, entry: WeightEntry, multiplier: number, component: LoraComponent): { entry: WeightEntry; term: Term } | string {
  const bias = entry.bias;
  if (bias === undefined) return `${component}:${module.module}: the LoRA has diff_b but the model's ${entry.initializer} has no bias initializer to patch`;
  if (!MERGEABLE.has(bias.dtype)) return `${component}:${module.module}: cannot merge diff_b into its ${bias.dtype} bias ${bias.initializer}`;
  const delta = deltaBias(module, 1, bias.dims.reduce((a, b) => a * b, 1));
  if (delta === undefined || isLoraMathError(delta)) return delta?.error ?? `${component}:${module.module}: no diff_b`;
  const biasEntry: WeightEntry = { module: `${entry.module}.bias`, initializer: bias.initializer, node: entry.node, op: entry.op, layout: 'out_in', dims: bias.dims, dtype: bias.dtype, location: bias.location, via: [] };
  return { entry: biasEntry, term: { key: `${entry.initializer}|${module.module}|bias`, multiplier, delta } };
}

const FP32_MAX = 3.4028234663852886e38;
const FP16_MAX = 65504;
/** The largest finite bfloat16 (0x7f7f). */
const BF16_MAX = 3.3895313892515355e38;

/** Weight dtypes a merge adds into (a single-file checkpoint's weights may be bf16, read in place). */
const MERGEABLE = new Set(['float32', 'float16', 'bfloat16']);

function limitOf(dtype: string): number {
  return dtype === 'float16' ? FP16_MAX : dtype === 'bfloat16' ? BF16_MAX : FP32_MAX;
}

/** bf16 has fp32's exponent range: an overflow message names that range. */
function limitName(dtype: string): 'fp16' | 'fp32' {
  return dtype === 'float16' ? 'fp16' : 'fp32';
}

/**
 * Adds `sum` to bf16 weights in place: each as fp32 (exact: bf16 is fp32's top half) plus its sum, rounded
 * once to bf16, nearest-even as torch rounds; NaN stays a quiet NaN with its sign.
 */
export function addToBfloat16(bits: Uint16Array, sum: Float32Array): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < bits.length; i++) {
    u[0] = bits[i] << 16;
    f[0] = f[0] + sum[i];
    const x = u[0];
    bits[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}

/**
 * A bound on |scale·up·down| from the factors alone: scale · rank · max|up| · max|down|. The factors'
 * maxima were found when the file was read (the NaN/Inf check), so this costs nothing per merge.
 */
function productBound({ up, down, rank, scale }: LowRank): number {
  return Math.abs(scale) * rank * maxAbs(up) * maxAbs(down);
}

function elements(entry: WeightEntry): number {
  return entry.dims.reduce((a, b) => a * b, 1);
}

/** A term's delta: as planned, from the cache, or the product of its factors (asked for ahead, or now), then cached. */
async function termDelta(term: Term, entry: WeightEntry, context: MergeContext, asked: AskedProducts): Promise<Float32Array> {
  if (term.delta instanceof Float32Array) return term.delta;
  const cached = context.cache?.get(term.key);
  if (cached) return cached;
  const delta = await (asked.take(term) ?? productOf(term.delta, entry, context.kernel));
  context.cache?.set(term.key, delta);
  return delta;
}

/**
 * How many bytes of products a merge asks for ahead of the weight it adds them to, beyond two weights
 * per helper thread. Products the cache keeps cost nothing extra when asked early; the others are this
 * much more memory for a moment. With two weights ahead, the helper on the 2-core dev machine sat idle
 * while the merge waited on a new file's write: the first SD1.5 merge (rank 32) took 2.2-2.7 s, and
 * 1.7-2.1 s with sixteen weights (about 90 MB) ahead; all of them ahead was no faster.
 */
const PRODUCTS_AHEAD_BYTES = 128 * 2 ** 20;

/** Products asked of the kernel before their weight is merged, with the bytes they will take. */
class AskedProducts {
  private readonly products = new Map<Term, { product: Promise<Float32Array>; bytes: number }>();
  bytes = 0;

  constructor(private readonly kernel: MergeKernel) {}

  /** Asks for `term`'s product unless it has a delta already or was asked for. */
  ask(term: Term, entry: WeightEntry): void {
    if (term.delta instanceof Float32Array || this.products.has(term)) return;
    const product = productOf(term.delta, entry, this.kernel);
    // Awaited when its weight is merged; a merge that fails first must not leave it unhandled.
    product.catch(() => undefined);
    const bytes = elements(entry) * 4;
    this.products.set(term, { product, bytes });
    this.bytes += bytes;
  }

  /** The product asked for `term`, if it was; the caller holds it from now on. */
  take(term: Term): Promise<Float32Array> | undefined {
    const asked = this.products.get(term);
    if (!asked) return undefined;
    this.products.delete(term);
    this.bytes -= asked.bytes;
    return asked.product;
  }
}

/** scale·up·down in the weight's stored layout, through the kernel's Gemm, from the factors as they are. */
function productOf({ up, down, rank: r, scale }: LowRank, entry: WeightEntry, kernel: MergeKernel): Promise<Float32Array> {
  // Rows × columns as stored: [in, out] for MatMul, [out, in·k] for Gemm and Conv.
  const m = entry.dims[0];
  const n = elements(entry) / m;
  // Stored Wᵀ [in, out] = downᵀ·upᵀ: the Gemm transposes down [r × in] and up [out × r] itself.
  if (entry.layout === 'in_out') return kernel.product({ a: down, b: up, m, r, n, scale, transposed: true });
  return kernel.product({ a: up, b: down.subarray(0, r * n), m, r, n, scale, transposed: false });
}

/** A stored weight (fp32) as torch lays it out. */
function toTorchLayout(stored: Float32Array, entry: WeightEntry): Float32Array {
  return entry.layout === 'in_out' ? transpose(stored, entry.dims[0], entry.dims[1]) : stored;
}

/**
 * Reads single weights from the model file (raw_data inside it) or its external data files, one open
 * file each. Only the patched weights are read: a text encoder keeps its 0.5 GB of weights inline.
 */
class WeightReader {
  private readonly handles = new Map<string, Promise<fs.promises.FileHandle>>();

  constructor(private readonly modelFile: string) {}

  /** Reads the weight's bytes from byte `from` into `out` (as many as it holds) on libuv's threads. */
  async read(entry: WeightEntry, out: Uint8Array, from = 0): Promise<void> {
    const loc = entry.location;
    const name = loc.kind === 'inline' ? this.modelFile : loc.file;
    let handle = this.handles.get(name);
    if (!handle) this.handles.set(name, (handle = fs.promises.open(name, 'r')));
    const file = await handle;
    const length = Math.min(out.length, loc.length - from);
    for (let at = 0; at < length; ) {
      const { bytesRead } = await file.read(out, at, length - at, loc.offset + from + at);
      if (bytesRead === 0) throw new Error(`${name} ended at byte ${loc.offset + from + at}, inside ${entry.initializer}`);
      at += bytesRead;
    }
  }

  /** The weight as fp32, as stored. */
  async float32(entry: WeightEntry): Promise<Float32Array> {
    const bytes = new Uint8Array(entry.location.length);
    await this.read(entry, bytes);
    if (entry.dtype === 'float16') return fromFloat16(new Uint16Array(bytes.buffer));
    if (entry.dtype === 'bfloat16') return new Float32Array(Uint32Array.from(new Uint16Array(bytes.buffer), (b) => b << 16).buffer);
    return new Float32Array(bytes.buffer);
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (h) => (await h.catch(() => undefined))?.close()));
  }
}

/** Every patched weight's new bytes by initializer (tests and small graphs: this holds them all at once). */
export async function computeAll(merged: MergedGraph): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await merged.compute((patch, bytes, at) => {
    let weight = out.get(patch.initializer);
    if (!weight) out.set(patch.initializer, (weight = new Uint8Array(patch.length)));
    weight.set(bytes, at);
  });
  return out;
}
