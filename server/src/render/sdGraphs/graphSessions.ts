import type { InferenceSession } from 'onnxruntime-node';
import { PipelineComponent } from './architecture';
import type { ExecutionProvider } from '../onnx/devices';
import { checkpointGraphs, CheckpointGraphs, CheckpointGraphsRequest, GraphFile } from './graphFiles';
import { describeForm, GraphForm, graphFormFor, PLAIN_FORM } from './graphOptions';

type Ort = typeof import('onnxruntime-node');

/**
 * The session options a checkpoint graph needs on top of the render's: the folder its external data
 * lies in, since the graph names the checkpoint by basename and ORT reads it from there and only there.
 */
export function graphSessionOptions(graph: GraphFile, options: InferenceSession.SessionOptions = {}): InferenceSession.SessionOptions {
  if (!graph.dataFolder) return options;
  return {
    ...options,
    extra: { ...options.extra, session: { ...(options.extra?.session ?? {}), model_external_initializers_file_folder_path: graph.dataFolder } },
  };
}

/** One session per graph of a checkpoint; if one fails, those already made are released. */
export async function createGraphSessions(
  ort: Ort,
  graphs: CheckpointGraphs,
  options: InferenceSession.SessionOptions = {},
): Promise<Partial<Record<PipelineComponent, InferenceSession>>> {
  const sessions: Partial<Record<PipelineComponent, InferenceSession>> = {};
  try {
    for (const [component, graph] of Object.entries(graphs.graphs) as [PipelineComponent, GraphFile][]) {
      sessions[component] = await ort.InferenceSession.create(graph.model, graphSessionOptions(graph, options));
    }
    return sessions;
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s?.release().catch(() => undefined)));
    throw e;
  }
}

/** A checkpoint's sessions on one device, in the form they were built in. */
export interface DeviceGraphSessions {
  sessions: Partial<Record<PipelineComponent, InferenceSession>>;
  graphs: CheckpointGraphs;
  form: GraphForm;
  /** Why the device's own form was not used (its sessions failed to create and the plain form runs instead). */
  note?: string;
}

/**
 * Sessions for `device` over graphs in the form graphFormFor picks for it. A fused or fp16 form whose sessions
 * fail to create (an EP build without one of the contrib kernels, a driver refusing fp16) falls back to the
 * plain fp32 form with a note: a render is never lost to a faster form. The plain form failing is the device
 * failing, and throws (onFirstWorkingDevice then tries the next device).
 */
export async function createDeviceGraphSessions(
  ort: Ort,
  device: ExecutionProvider,
  request: Omit<CheckpointGraphsRequest, 'dtype' | 'fused'>,
  options: InferenceSession.SessionOptions = {},
  build: (request: CheckpointGraphsRequest) => CheckpointGraphs = checkpointGraphs,
  override?: string,
): Promise<DeviceGraphSessions> {
  const form = graphFormFor(device, override);
  const open = async (f: GraphForm) => {
    const graphs = build({ ...request, dtype: f.dtype, fused: f.fused });
    return { graphs, sessions: await createGraphSessions(ort, graphs, options) };
  };
  const plain = form.dtype === PLAIN_FORM.dtype && !Object.values(form.fused).some((on) => on);
  if (plain) return { ...(await open(form)), form };
  try {
    return { ...(await open(form)), form };
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0];
    const note = `${device}: the ${describeForm(form)} graphs did not load (${reason}); rendering with the plain fp32 graphs`;
    return { ...(await open(PLAIN_FORM)), form: PLAIN_FORM, note };
  }
}
