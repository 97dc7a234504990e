import * as fs from 'fs';
import * as path from 'path';
import { LibraryHost } from '../libraryHost';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { CatalogEntry } from '../service/library/catalog';
import { checkpointNames, checkpointTitle } from '../service/library/checkpoints';
import { DEFAULT_SETTINGS } from '../service/settings';
import { UsageError } from './usage';

/**
 * `sd-prompt models [--webui DIR] [--no-hash] [--json]`: the checkpoints and VAEs of a webui folder as A1111 lists
 * them, with what each file is (family, dtype, whether sd-prompt renders it and why not), its size and hashes. The
 * short hash needs the whole file's sha256: taken from the webui's own cache.json where A1111 has computed it, else
 * computed here (a few seconds per GB); `--no-hash` skips that.
 */
export interface ModelsOptions {
  webui: string;
  json: boolean;
  hash: boolean;
}

export function parseModelsArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ModelsOptions {
  let webui: string | undefined;
  let json = false;
  let hash = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--webui') {
      webui = args[++i];
      if (!webui) throw new UsageError('--webui takes the folder of an AUTOMATIC1111, Forge or ComfyUI install');
    } else if (a === '--json') json = true;
    else if (a === '--no-hash') hash = false;
    else throw new UsageError(`unknown option '${a}' for models`);
  }
  webui ??= env.SD_WEBUI_PATH;
  if (!webui) throw new UsageError('models needs --webui DIR (or SD_WEBUI_PATH): the webui folder whose models/Stable-diffusion to list');
  return { webui, json, hash };
}

export interface ModelRow {
  kind: 'checkpoint' | 'vae';
  /** A1111's name: the path below the models folder with its extension. */
  name: string;
  /** What A1111 writes as `Model:` / `VAE:`. */
  nameForExtra: string;
  title: string;
  path: string;
  family: string;
  renderable: boolean;
  problem?: string;
  dtype: string;
  size: number;
  legacyHash?: string;
  shortHash?: string;
  sha256?: string;
}

export async function runModels(o: ModelsOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  if (!fs.existsSync(o.webui) || !fs.statSync(o.webui).isDirectory()) throw new UsageError(`--webui ${o.webui} is not a folder`);
  const host = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
  try {
    await host.configure({ ...DEFAULT_SETTINGS, webuiPath: path.resolve(o.webui) });
    if (!host.catalog.hasFolders('checkpoint')) {
      io.stderr(`sd-prompt: ${o.webui} has no models/Stable-diffusion (or models/checkpoints) folder\n`);
      return 1;
    }
    for (const p of host.catalog.problems) io.stderr(`sd-prompt: ${p.message}\n`);
    const rows: ModelRow[] = [];
    for (const kind of ['checkpoint', 'vae'] as const) {
      for (const entry of host.catalog.list(kind)) rows.push(await rowOf(entry, kind, o.hash ? await host.sha256(entry) : undefined));
    }
    io.stdout(o.json ? JSON.stringify({ webui: path.resolve(o.webui), models: rows }, null, 2) + '\n' : formatRows(rows));
    return 0;
  } finally {
    host.dispose();
  }
}

async function rowOf(entry: CatalogEntry, kind: 'checkpoint' | 'vae', sha256: string | undefined): Promise<ModelRow> {
  const names = checkpointNames(entry);
  const model = entry.details.model;
  const problem = entry.pickle
    ? `${entry.path} is a Python pickle (${entry.extension}), which can run code when opened: sd-prompt never opens one; use the .safetensors version`
    : (model?.problem ?? entry.details.error);
  return {
    kind,
    name: names.name,
    nameForExtra: names.nameForExtra,
    title: checkpointTitle(entry, sha256),
    path: entry.path,
    family: model?.family ?? 'unknown',
    renderable: model?.renderable ?? false,
    ...(problem ? { problem } : {}),
    dtype: model?.dtype ?? 'unknown',
    size: entry.size,
    ...(model?.legacyHash ? { legacyHash: model.legacyHash } : {}),
    ...(sha256 ? { shortHash: sha256.slice(0, 10), sha256 } : {}),
  };
}

function formatRows(rows: ModelRow[]): string {
  if (rows.length === 0) return 'no checkpoints\n';
  const size = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
  const table = rows.map((r) => [r.kind === 'vae' ? 'VAE' : r.family, r.dtype, size(r.size), r.shortHash ?? r.legacyHash ?? '-', r.title, r.renderable ? '' : `  (${r.problem ?? 'not renderable'})`]);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...table.map((t) => t[c].length)));
  return table.map((t) => `${t.slice(0, 4).map((v, c) => v.padEnd(widths[c])).join('  ')}  ${t[4]}${t[5]}`).join('\n') + '\n';
}
