import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PipelineComponent, SdArchitecture, WeightSource } from './architecture';
import { fusedFormsOf } from './graphOptions';
import { FloatType, FusedForms } from './net';
import { buildSdGraphs } from './pipelineGraphs';

/**
 * A checkpoint's graphs on disk, built once and kept in a cache folder: only the graphs (a few
 * hundred KB to a few MB), never the weights. Each graph's initializers are external data at the
 * checkpoint's own offsets (nothing copied), so ORT maps the checkpoint itself.
 *
 * onnxruntime-node 1.30 refuses external data outside the model's folder, absolute locations and
 * symlinks that lead out of it (docs/rendering.md, "Checkpoint graphs and external data"); it reads
 * external files from `session.model_external_initializers_file_folder_path` when that is set. So
 * each graph names its data file by its real basename and records the real folder, which the
 * session is created with (graphSessions.ts). A symlink by that basename beside the graph lets code
 * that reads the graph with plain file access (the LoRA merge's index) find the bytes too.
 */

/** Bump when the builders emit different graphs for the same weights: older cache entries are then not used. */
export const GRAPH_FORMAT = 3;

export interface GraphFile {
  component: PipelineComponent;
  /** The graph: `<cache entry>/<component>/model.onnx` (`graph.onnx` where its data file is named model.onnx). */
  model: string;
  /** Where its external data lies (the real folder of the file it points into); absent when every weight is inline. */
  dataFolder?: string;
  /** Input and output names as built. */
  inputs: string[];
  outputs: string[];
}

export interface CheckpointGraphs {
  /** The cache entry (a folder of this checkpoint's graphs). */
  folder: string;
  graphs: Partial<Record<PipelineComponent, GraphFile>>;
  /** True when the graphs were already in the cache (nothing built, nothing written). */
  cached: boolean;
  /** Bytes written to the cache for this load (0 when cached). */
  bytesWritten: number;
}

export interface CheckpointGraphsRequest {
  /** The checkpoint file the weights come from: its size, mtime and a partial hash key the cache. */
  checkpoint: string;
  architecture: SdArchitecture;
  source: WeightSource;
  dtype: FloatType;
  /** onnxruntime contrib ops for EPs that run them best (`true`: every fused form); graphFormFor picks them per device. */
  fused?: boolean | FusedForms;
  /** Other files the source reads (a separate VAE): part of the key. */
  otherFiles?: string[];
  /** Default `defaultGraphCacheRoot()`. */
  cacheRoot?: string;
}

/** `$XDG_CACHE_HOME/sd-prompt/graphs` where XDG_CACHE_HOME is set, else `<os temp>/sd-prompt-graphs`. */
export function defaultGraphCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, 'sd-prompt', 'graphs') : path.join(os.tmpdir(), 'sd-prompt-graphs');
}

const PARTIAL = 1 << 20;

/**
 * What identifies a file's contents without reading all of it: size, mtime and sha256 of its first
 * and last MiB (a safetensors header, which says every tensor's place, is at the start).
 */
export function fileIdentity(file: string): string {
  const stat = fs.statSync(file);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const read = (offset: number, length: number) => {
      const buf = Buffer.alloc(length);
      const n = fs.readSync(fd, buf, 0, length, offset);
      hash.update(buf.subarray(0, n));
    };
    read(0, Math.min(PARTIAL, stat.size));
    if (stat.size > PARTIAL) read(Math.max(PARTIAL, stat.size - PARTIAL), Math.min(PARTIAL, stat.size - PARTIAL));
  } finally {
    fs.closeSync(fd);
  }
  return `${stat.size}:${Math.round(stat.mtimeMs)}:${hash.digest('hex')}`;
}

interface Manifest {
  format: number;
  key: string;
  checkpoint: string;
  /** The checkpoint's `fileIdentity` when these graphs were built. */
  identity: string;
  graphs: Partial<Record<PipelineComponent, Omit<GraphFile, 'model'> & { model: string }>>;
}

const MANIFEST = 'graphs.json';

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** The checkpoint's graphs from the cache, or built, written and cached now. */
export function checkpointGraphs(request: CheckpointGraphsRequest): CheckpointGraphs {
  const root = request.cacheRoot ?? defaultGraphCacheRoot();
  const checkpoint = path.resolve(request.checkpoint);
  const identity = fileIdentity(checkpoint);
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({
      format: GRAPH_FORMAT,
      files: [[checkpoint, identity], ...(request.otherFiles ?? []).map((f) => [path.resolve(f), fileIdentity(f)])],
      architecture: request.architecture,
      dtype: request.dtype,
      // The form, normalised: `true` and every form named one by one build the same graphs.
      fused: fusedFormsOf(request.fused),
    }))
    .digest('hex')
    .slice(0, 20);
  const name = `${path.basename(checkpoint).replace(/[^\w.-]+/g, '_').slice(0, 60)}-${key}`;
  const folder = path.join(root, name);
  const existing = readManifest(folder, key);
  if (existing) return { folder, graphs: existing, cached: true, bytesWritten: 0 };

  fs.mkdirSync(root, { recursive: true });
  const building = fs.mkdtempSync(path.join(root, `.${name}-`));
  try {
    const built = buildSdGraphs(request.architecture, {
      dtype: request.dtype,
      fused: request.fused,
      weights: { kind: 'source', source: request.source },
      normedHiddenStates: true,
    });
    const manifest: Manifest = { format: GRAPH_FORMAT, key, checkpoint, identity, graphs: {} };
    for (const [component, graph] of Object.entries(built) as [PipelineComponent, NonNullable<(typeof built)[PipelineComponent]>][]) {
      graph.model.producerName = 'sd-prompt';
      const dir = path.join(building, component);
      fs.mkdirSync(dir);
      // Every file this graph reads, by its real path: one folder per graph is all ORT can be told.
      const real = new Map<string, string>();
      for (const init of graph.model.graph.referenced) {
        if ('file' in init.bytes && !real.has(init.bytes.file)) real.set(init.bytes.file, fs.realpathSync(init.bytes.file));
      }
      const folders = new Set([...real.values()].map((f) => path.dirname(f)));
      if (folders.size > 1) throw new Error(`${component}: its weights lie in ${folders.size} folders (${[...folders].join(', ')}); one graph can read from one`);
      const names = new Map<string, string>();
      for (const r of real.values()) {
        const base = path.basename(r);
        if (names.has(base) && names.get(base) !== r) throw new Error(`${component}: two weight files named ${base}`);
        names.set(base, r);
      }
      // The graph must not take the name of a data file it points at (a symlink by that name sits beside it).
      const graphName = names.has('model.onnx') ? 'graph.onnx' : 'model.onnx';
      graph.model.write(path.join(dir, graphName), { locate: (file) => path.basename(real.get(file) as string) });
      for (const [base, target] of names) {
        try {
          fs.symlinkSync(target, path.join(dir, base));
        } catch {
          // Windows without the symlink privilege: sessions still work (they read the real folder);
          // only readers that open the graph's data by path (the LoRA merge's index) miss it.
        }
      }
      manifest.graphs[component] = {
        component,
        model: path.join(component, graphName),
        ...(folders.size ? { dataFolder: [...folders][0] } : {}),
        inputs: graph.model.graph.inputs.map((i) => i.name),
        outputs: graph.model.graph.outputs.map((o) => o.name),
      };
    }
    fs.writeFileSync(path.join(building, MANIFEST), JSON.stringify(manifest, null, 1));
    const bytesWritten = folderBytes(building);
    removeOlderEntries(root, checkpoint, identity);
    fs.rmSync(folder, { recursive: true, force: true });
    try {
      fs.renameSync(building, folder);
    } catch (e) {
      // Another process (a second render, the CLI) finished the same entry first: theirs is as good.
      const theirs = readManifest(folder, key);
      if (!theirs) throw e;
      fs.rmSync(building, { recursive: true, force: true });
      return { folder, graphs: theirs, cached: true, bytesWritten: 0 };
    }
    return { folder, graphs: readManifest(folder, key) as CheckpointGraphs['graphs'], cached: false, bytesWritten };
  } catch (e) {
    fs.rmSync(building, { recursive: true, force: true });
    throw e;
  }
}

function readManifest(folder: string, key: string): CheckpointGraphs['graphs'] | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(folder, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== GRAPH_FORMAT || manifest.key !== key) return undefined;
  const graphs: CheckpointGraphs['graphs'] = {};
  for (const [component, g] of Object.entries(manifest.graphs) as [PipelineComponent, GraphFile][]) {
    const model = path.join(folder, g.model);
    if (!fs.existsSync(model)) return undefined;
    graphs[component] = { ...g, model };
  }
  return graphs;
}

/**
 * An edited checkpoint gets new entries: those built from its earlier contents go. Entries of its current
 * contents stay (another compute dtype, another VAE: a device switch must not rebuild them).
 */
function removeOlderEntries(root: string, checkpoint: string, identity: string): void {
  for (const entry of fs.readdirSync(root)) {
    if (entry.startsWith('.')) continue;
    try {
      const m = JSON.parse(fs.readFileSync(path.join(root, entry, MANIFEST), 'utf8')) as Manifest;
      if (m.checkpoint === checkpoint && m.identity !== identity) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
    } catch {
      // Not an entry of ours, or one being written: leave it.
    }
  }
}

