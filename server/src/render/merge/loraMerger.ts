import type { LoraMergeReport } from '../../../../common/src/mergeReport';
import type { DeviceSetting } from '../onnx/devices';
import { GraphCache } from '../onnx/graphCache';
import type { PreparedLoras } from '../lora/prepare';
import { DeltaCache } from './deltaCache';
import type { MergedGraph } from './merge';
import { MergeFiles, SessionModel, sessionModel, writeMergedModel } from './mergedModelFiles';
import { MergeKernel, mergeDeviceFor } from './mergeKernel';
import { mergeModel, MergeTargets } from './mergeModel';
import { MergeScratch } from './mergeScratch';

type Ort = typeof import('onnxruntime-node');

/** A model's merge worked out (mergeModel): each patched graph by its file, and the report per LoRA. */
export interface ModelMerge {
  merged: Map<string, MergedGraph>;
  loras: LoraMergeReport[];
}

export interface LoraMergerOptions {
  /**
   * Keep what makes the next merge of the same model fast: every module's delta (a weight change then only
   * re-adds them), the parsed graphs, and each graph's temporary weight file, overwritten by its next merge.
   * For the render worker, which releases a graph's sessions before merging it again (MergeFiles needs that).
   * Without it (`sd-prompt merge`, a one-off load) nothing outlives the merge but the kernel.
   */
  remerge?: boolean;
}

/**
 * The front door of render/merge/: one object owns everything a LoRA merge runs on (the product kernel
 * and its helper threads, the delta and graph caches, the scratch memory, the temporary weight files)
 * and gives it all back in `release`. The render worker, a one-off session load and `sd-prompt merge`
 * each hold one; nothing else builds the merge's parts.
 *
 * The kernel starts with the first merge that has a LoRA to merge, on the device `useDevice` names
 * (through mergeDeviceFor: a WebGPU render's products run on the CPU), and is replaced when another is
 * named; the caches stay.
 */
export class LoraMerger {
  private kernel: Promise<MergeKernel> | undefined;
  private kernelDevice: DeviceSetting;
  private readonly cache?: DeltaCache;
  private readonly graphs?: GraphCache;
  private readonly files?: MergeFiles;
  /** Made by the first merge with a LoRA to merge (a render without LoRAs needs none of it). */
  private scratch?: MergeScratch;

  constructor(
    private readonly ort: Ort,
    renderDevice: DeviceSetting,
    options: LoraMergerOptions = {},
  ) {
    this.kernelDevice = mergeDeviceFor(renderDevice);
    if (options.remerge) {
      this.cache = new DeltaCache();
      this.graphs = new GraphCache();
      this.files = new MergeFiles();
    }
  }

  /** Products for renders on `renderDevice` from now on: another kernel if that is another device (the deltas stay). */
  async useDevice(renderDevice: DeviceSetting): Promise<void> {
    const device = mergeDeviceFor(renderDevice);
    if (device === this.kernelDevice) return;
    this.kernelDevice = device;
    const old = this.kernel;
    this.kernel = undefined;
    await (await old?.catch(() => undefined))?.release();
  }

  /**
   * Works out the merge of the prepared LoRAs into every graph of `model` they touch, with a report per
   * LoRA (the problems `prepared` found included). The weights are computed later, as each graph is
   * written (`sessionModels`, `writeModel`): the merger must live until then.
   */
  async plan(model: MergeTargets, prepared: PreparedLoras): Promise<ModelMerge> {
    // No LoRA to merge, no kernel: the plan is the reports of those that could not be read.
    const kernel = prepared.inputs.length ? await this.startedKernel() : new MergeKernel(this.ort);
    if (prepared.inputs.length) this.scratch ??= new MergeScratch();
    return mergeModel(model, prepared, { kernel, cache: this.cache, graphs: this.graphs, scratch: this.scratch });
  }

  /**
   * The bytes each merged graph's session is made from (all but those `skip` names), computing the
   * weights now. Each one's `dispose` removes its temporary file once its session exists.
   */
  async sessionModels(merge: ModelMerge, skip: (file: string) => boolean = () => false): Promise<Map<string, SessionModel>> {
    const models = new Map<string, SessionModel>();
    try {
      for (const [file, m] of merge.merged) if (!skip(file)) models.set(file, await sessionModel(m, { files: this.files }));
    } catch (e) {
      for (const m of models.values()) m.dispose();
      throw e;
    }
    return models;
  }

  /** Writes one merged graph as a model file with its patched weights beside it (`sd-prompt merge`). */
  writeModel(m: MergedGraph, outModel: string): Promise<void> {
    return writeMergedModel(m, outModel);
  }

  /** Gives back the kernel and its threads, the cached deltas and graphs, and the kept temporary files. */
  async release(): Promise<void> {
    const kernel = this.kernel;
    this.kernel = undefined;
    this.cache?.clear();
    this.graphs?.clear();
    this.files?.clear();
    await (await kernel?.catch(() => undefined))?.release();
  }

  private startedKernel(): Promise<MergeKernel> {
    if (!this.kernel) {
      const starting = MergeKernel.onDevice(this.ort, this.kernelDevice);
      // A kernel that failed to start is tried again by the next merge.
      starting.catch(() => {
        if (this.kernel === starting) this.kernel = undefined;
      });
      this.kernel = starting;
    }
    return this.kernel;
  }
}
