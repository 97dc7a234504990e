import * as path from 'path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { DeviceSetting, ExecutionProvider, onFirstWorkingDevice, unavailableDevice } from '../onnx/devices';
import { ModelFolder, ModelFolderError } from './modelFolder';
import type { LoraMergeReport } from '../../../../common/src/mergeReport';
import { LoraComponent } from '../lora/loraKeys';
import { PreparedLoras } from '../lora/prepare';
import { LoraMerger } from '../merge/loraMerger';
import type { SessionModel } from '../merge/mergedModelFiles';
import { graphSessionOptions } from '../sdGraphs/graphSessions';
import { addClipSkipOutputs, readWithClipSkipOutputs } from './clipSkipOutputs';

/**
 * onnxruntime sessions for a model folder, created from file paths (ORT reads the external
 * weights itself), with each graph's input and output names and dtypes read from the session:
 * exporters differ (int32 or int64 ids, float or int64 timestep, fp16 graphs), so nothing is
 * assumed.
 */
export interface GraphIo {
  session: InferenceSession;
  inputs: Map<string, { type: Tensor.Type; shape: readonly (number | string)[] }>;
  outputs: string[];
}

export interface ModelSessions {
  device: ExecutionProvider;
  loras: LoraMergeReport[];
  /** Devices tried before the one that ran, with why they failed. */
  attempts: { device: ExecutionProvider; error: string }[];
  textEncoder: GraphIo;
  textEncoder2?: GraphIo;
  unet: GraphIo;
  vaeDecoder: GraphIo;
  /** Per graph file, what its session depends on (graphKeys): equal keys, the same session would be made. */
  keys: Map<string, string>;
  /** The sessions by graph file (those not yet released). */
  graphs: ReadonlyMap<string, GraphIo>;
  /** Graph files whose sessions came from earlier sessions (`reuse`) rather than being made anew. */
  reused: string[];
  /** Releases every session, or every one but those of `keep` (handed on to newer sessions). */
  release(keep?: ReadonlySet<string>): Promise<void>;
  /** Why the SD1 text encoder has no clip-skip outputs (`normed_hidden_states.N`), when it has none. */
  clipSkipUnavailable?: string;
}

/** Sessions of earlier renders that a new set of sessions may take over, by graph file. */
export interface SessionReuse {
  sessions: ModelSessions;
  files: ReadonlySet<string>;
}

/** The options every render session on `ep` is made with (the merge bench times its sessions with them too). */
export function renderSessionOptions(ep: ExecutionProvider): InferenceSession.SessionOptions {
  // Severity 3 (errors only): ORT's node-placement warnings are noise for a user.
  if (ep !== 'cpu') return { executionProviders: [ep], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  return {
    executionProviders: [ep],
    // Not 'all': its CPU layout transforms (NCHWc) took 6-9 s of each SD1.5 UNet session's creation and
    // made no step faster (render bench on the SD1.5-sized model, 2-core machine: load 11.0 s, 15.6 s per
    // step with 'all'; 2.1 s, 16.1 s per step with 'extended'). Every LoRA weight change makes a new UNet
    // session, so that load is paid again and again.
    graphOptimizationLevel: 'extended',
    logSeverityLevel: 3,
    // Measured on the SD1.5-sized UNet (3.3 GB of weights): ORT's arena and pre-packed weight copies
    // take peak memory to 5.6 GB (1.7×); without them 3.5 GB (1.07×) for ~17% slower steps.
    // A CPU render is the fallback on machines without a GPU, where memory is what runs out.
    enableCpuMemArena: false,
    enableMemPattern: false,
    extra: { session: { disable_prepacking: '1' } },
  };
}

/**
 * What each graph's session depends on besides the model and device: its file, and the multipliers of the
 * LoRAs with modules in its component (te for the text encoders, unet for the UNet; none for the VAE).
 * A weight change of the UNet thus leaves the text encoders' and the VAE's sessions as they are.
 */
export function graphKeys(folder: ModelFolder, prepared: PreparedLoras): Map<string, string> {
  const keys = new Map<string, string>();
  const graphs: [string | undefined, LoraComponent | undefined][] = [
    [folder.textEncoder, 'text_encoder'],
    [folder.textEncoder2, 'text_encoder_2'],
    [folder.unet, 'unet'],
    [folder.vaeDecoder, undefined],
  ];
  for (const [file, component] of graphs) {
    if (!file) continue;
    const merged = component
      ? prepared.inputs
          .filter((l) => l.modules.some((m) => m.component === component))
          .map((l) => [l.id ?? l.path, component === 'unet' ? l.unet : l.te, l.dyn ?? null])
          .filter(([, multiplier]) => multiplier !== 0)
      : [];
    keys.set(file, JSON.stringify([file, merged]));
  }
  return keys;
}

type Ort = typeof import('onnxruntime-node');

/** What each graph must take and give, with what to do when it does not. */
const REQUIRED: Record<'textEncoder' | 'unet' | 'vaeDecoder', { inputs: string[]; output: string[] }> = {
  textEncoder: { inputs: ['input_ids'], output: ['last_hidden_state'] },
  unet: { inputs: ['sample', 'timestep', 'encoder_hidden_states'], output: ['out_sample'] },
  vaeDecoder: { inputs: ['latent_sample'], output: ['sample'] },
};

function describe(ort: Ort, session: InferenceSession): GraphIo {
  const inputs = new Map<string, { type: Tensor.Type; shape: readonly (number | string)[] }>();
  for (const m of session.inputMetadata) if (m.isTensor) inputs.set(m.name, { type: m.type, shape: m.shape });
  void ort;
  return { session, inputs, outputs: [...session.outputNames] };
}

function check(io: GraphIo, file: string, role: keyof typeof REQUIRED): void {
  const need = REQUIRED[role];
  const missing = need.inputs.filter((n) => !io.inputs.has(n));
  const outputOk = need.output.some((n) => io.outputs.includes(n)) || (role === 'textEncoder' && io.outputs.length > 0);
  if (missing.length || !outputOk) {
    throw new ModelFolderError(
      file,
      `${file} is not a diffusers ${role} graph: it lacks ${[...missing.map((m) => `input '${m}'`), ...(outputOk ? [] : [`output '${need.output[0]}'`])].join(', ')} (it has inputs ${[...io.inputs.keys()].join(', ')}; outputs ${io.outputs.join(', ')}). Export it with optimum's diffusers ONNX export.`,
    );
  }
}

/**
 * Creates the sessions on the first working device for `setting`. With `reuse`, the sessions of those
 * graph files are taken over from earlier sessions (whose device then decides), and the rest are made
 * on that device; their LoRAs are still planned, so that every LoRA's report covers every component.
 */
export async function loadSessions(
  folder: ModelFolder,
  setting: DeviceSetting,
  ort: Ort = require('onnxruntime-node'),
  prepared: PreparedLoras = { inputs: [], problems: [] },
  merger?: LoraMerger,
  reuse?: SessionReuse,
  /**
   * Whether an SD1 folder's text encoder gets the clip-skip outputs it lacks (clipSkipOutputs.ts). That reads the
   * whole graph file into memory and parses it, so the render worker asks only for renders with clip skip > 1.
   */
  clipSkipOutputs = true,
): Promise<ModelSessions> {
  if (reuse?.files.size) setting = reuse.sessions.device;
  const reused = (file: string): GraphIo | undefined => (reuse?.files.has(file) ? reuse.sessions.graphs.get(file) : undefined);
  // Merge once (the same bytes serve every device tried), only into components a LoRA touches. Without
  // the caller's merger, one for this load alone: it lives until sessionModels has computed the merged
  // weights (the products run then).
  const using = merger ?? new LoraMerger(ort, setting);
  let loras: LoraMergeReport[];
  let models: Map<string, SessionModel>;
  try {
    const merge = await using.plan(folder, prepared);
    loras = merge.loras;
    models = await using.sessionModels(merge, (file) => reused(file) !== undefined);
  } finally {
    if (using !== merger) await using.release();
  }
  // Temporary files that could not be removed yet (mapped by ORT on Windows): removed on release.
  const leftover: SessionModel[] = [];
  const disposeModels = () => {
    for (const m of models.values()) if (!m.dispose()) leftover.push(m);
    models.clear();
  };
  // SD1's text encoder gets its clip-skip outputs where the folder's graph lacks them (clipSkipOutputs.ts);
  // SD2 and SDXL condition as A1111 does whatever the clip skip, so theirs are left as they are.
  const clipSkipFile = clipSkipOutputs && (folder.kind === 'sd1' || folder.kind === 'unknown') ? folder.textEncoder : undefined;
  let clipSkipUnavailable: string | undefined;
  // A provider whose library is not installed is skipped without asking onnxruntime (which logs red lines).
  const opened = onFirstWorkingDevice(setting, process.platform, async (ep) => {
    const options = renderSessionOptions(ep);
    const created: InferenceSession[] = [];
    try {
      const open = async (file: string) => {
        const kept = reused(file);
        if (kept) return kept;
        const m = models.get(file);
        // A merged graph comes as bytes; its untouched weights are read from `m.folder`.
        const folderOption = m && { session: { ...(options.extra?.session ?? {}), model_external_initializers_file_folder_path: m.folder } };
        // A checkpoint's graph reads the checkpoint from its real folder (graphSessionOptions).
        const dataFolder = folder.dataFolders?.get(file);
        const own = dataFolder ? graphSessionOptions({ component: 'unet', model: file, dataFolder, inputs: [], outputs: [] }, options) : options;
        const edited = file === clipSkipFile ? (m ? addClipSkipOutputs(m.bytes, file) : readWithClipSkipOutputs(file)) : undefined;
        if (edited?.kind === 'impossible') clipSkipUnavailable = edited.reason;
        if (edited?.kind === 'added') {
          // From bytes, ORT reads external weights from the folder it is told: the merge's, the checkpoint's, or the graph's own.
          const external = m?.folder ?? dataFolder ?? path.dirname(file);
          const s = await ort.InferenceSession.create(edited.bytes, {
            ...options,
            extra: { ...options.extra, session: { ...(options.extra?.session ?? {}), model_external_initializers_file_folder_path: external } },
          });
          created.push(s);
          return describe(ort, s);
        }
        const s = m ? await ort.InferenceSession.create(m.bytes, { ...options, extra: { ...options.extra, ...folderOption } }) : await ort.InferenceSession.create(file, own);
        created.push(s);
        return describe(ort, s);
      };
      const textEncoder = await open(folder.textEncoder);
      const textEncoder2 = folder.textEncoder2 ? await open(folder.textEncoder2) : undefined;
      const unet = await open(folder.unet);
      const vaeDecoder = await open(folder.vaeDecoder);
      return { textEncoder, textEncoder2, unet, vaeDecoder };
    } catch (e) {
      await Promise.all(created.map((s) => s.release().catch(() => undefined)));
      throw e;
    }
  }, undefined, (ep) => unavailableDevice(ep));
  // ORT has read the weights (CPU) or uploaded them (GPU) once the sessions exist: the merged bytes
  // and any temporary file are not needed any more, whatever happened.
  const { value, device, attempts } = await opened.finally(disposeModels);
  check(value.textEncoder, folder.textEncoder, 'textEncoder');
  if (value.textEncoder2 && folder.textEncoder2) check(value.textEncoder2, folder.textEncoder2, 'textEncoder');
  check(value.unet, folder.unet, 'unet');
  check(value.vaeDecoder, folder.vaeDecoder, 'vaeDecoder');
  const byFile = new Map<string, GraphIo>();
  for (const [file, io] of [
    [folder.textEncoder, value.textEncoder],
    [folder.textEncoder2, value.textEncoder2],
    [folder.unet, value.unet],
    [folder.vaeDecoder, value.vaeDecoder],
  ] as const) {
    if (file && io) byFile.set(file, io);
  }
  return {
    ...value,
    device,
    attempts,
    loras,
    graphs: byFile,
    keys: graphKeys(folder, prepared),
    reused: [...byFile.keys()].filter((f) => reused(f)),
    ...(clipSkipUnavailable ? { clipSkipUnavailable } : {}),
    release: async (keep) => {
      const going = [...byFile].filter(([file]) => !keep?.has(file));
      for (const [file] of going) byFile.delete(file);
      await Promise.all(going.map(([, g]) => g.session.release().catch(() => undefined)));
      for (const m of leftover.splice(0)) m.dispose();
    },
  };
}
