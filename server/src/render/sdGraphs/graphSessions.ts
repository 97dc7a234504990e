import type { InferenceSession } from 'onnxruntime-node';
import { PipelineComponent } from './architecture';
import { CheckpointGraphs, GraphFile } from './graphFiles';

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
