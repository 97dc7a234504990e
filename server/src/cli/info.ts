import * as fs from 'fs';
import * as path from 'path';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { loadLoraCard } from '../service/library/loraCard';
import { isSafetensorsError, SafetensorsCache, shortHash } from '../service/library/safetensors';
import { InputError } from './boundedRead';
import { UsageError } from './usage';

/**
 * `sd-prompt info FILE.safetensors`: a LoRA's card as JSON, the same card the editor's hover shows
 * (loraCard.ts), with A1111's name, alias and short hash and the file's metadata. Pickles (`.pt`,
 * `.ckpt`, `.bin`, `.pth`) are never opened: loading one can run any code in it.
 */
const PICKLE_EXTENSIONS = new Set(['.pt', '.ckpt', '.bin', '.pth']);

/** A file `info` refuses (a pickle, not a safetensors file): exit 1 with the reason. */
export class InfoError extends Error {}

export function parseInfoArgs(args: string[]): { file: string } {
  let file: string | undefined;
  for (const a of args) {
    if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    if (file !== undefined) throw new UsageError('info takes one FILE.safetensors');
    file = a;
  }
  if (file === undefined) throw new UsageError('info needs a FILE.safetensors');
  return { file };
}

export async function runInfo(o: { file: string }, io: { stdout: (s: string) => void }): Promise<number> {
  const file = path.resolve(o.file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${o.file}: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
  }
  if (stat.isDirectory()) throw new InputError(`cannot read ${o.file}: is a folder`);
  const extension = path.extname(file).toLowerCase();
  if (PICKLE_EXTENSIONS.has(extension)) {
    throw new InfoError(`${o.file} is a Python pickle (${extension}): opening it can run any code in it, so sd-prompt never does. Use a .safetensors version of it.`);
  }
  const fileSystem = new NodeFileSystem();
  const cache = new SafetensorsCache();
  const libraryPath = file.split(path.sep).join('/');
  const header = await cache.read(fileSystem, libraryPath);
  if (isSafetensorsError(header)) throw new InfoError(`${o.file} is not a readable safetensors file: ${header.error}`);
  const card = await loadLoraCard(fileSystem, libraryPath, cache);
  if (isSafetensorsError(card)) throw new InfoError(`${o.file} is not a readable safetensors file: ${card.error}`);
  let hash: string;
  try {
    hash = await shortHash(fileSystem, libraryPath, header);
  } catch (e) {
    throw new InfoError((e as Error).message);
  }
  const name = path.basename(file, path.extname(file));
  const { kind, keyStyle, rank, alpha, baseModel, triggerWords, outputName: _alias, sshsHash: _stored, ...rest } = card;
  const info = {
    name,
    // A1111: `alias = metadata.get('ss_output_name', name)`; `<lora:ALIAS>` finds the file too.
    alias: card.outputName ?? name,
    kind,
    keyStyle,
    rank: rank ?? null,
    alpha: alpha ?? null,
    baseModel,
    triggerWords,
    shortHash: hash,
    ...rest,
    metadata: readableMetadata(header.metadata),
  };
  io.stdout(JSON.stringify(info, null, 2) + '\n');
  return 0;
}

/** Metadata as stored, with the JSON-in-a-string values (`ss_tag_frequency`, ...) parsed, as A1111's metadata view does. */
function readableMetadata(metadata: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    out[key] = value;
    if (!value.startsWith('{')) continue;
    try {
      out[key] = JSON.parse(value);
    } catch {
      // Not JSON after all: shown as the string it is.
    }
  }
  return out;
}
