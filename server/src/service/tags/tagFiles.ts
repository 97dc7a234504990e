import { joinPath, LibraryFileSystem } from '../library/fileSystem';
import { PromptSettings } from '../settings';
import { parseTagCsv, TagFileProblem, TagRecord } from './tagCsv';
import { TagIndex } from './tagIndex';

/**
 * tagcomplete's folder inside the webui's `extensions/`: `a1111-sd-webui-tagcomplete` when
 * installed from the extension list, `tag-autocomplete` when cloned as its README says.
 */
const TAGCOMPLETE_FOLDER = /tag[-_ ]?(auto)?complete/i;

export interface TagFiles {
  paths: string[];
  problems: TagFileProblem[];
}

/**
 * The tag lists for these settings: each of `sdPrompt.tags.files` (a folder stands for its
 * `*.csv`), then every `*.csv` in tagcomplete's `tags/` folder of the webui at `sdPrompt.webuiPath`.
 */
export async function findTagFiles(fs: LibraryFileSystem, settings: PromptSettings): Promise<TagFiles> {
  const paths: string[] = [];
  const problems: TagFileProblem[] = [];
  for (const path of settings.tags.files) {
    const stat = await fs.stat(path).catch(() => undefined);
    if (!stat) problems.push({ file: path, line: 0, message: 'not found (sdPrompt.tags.files)' });
    else if (stat.kind === 'directory') paths.push(...(await csvFilesIn(fs, path)));
    else paths.push(path);
  }
  const webui = settings.webuiPath.replace(/[\\/]+$/, '');
  if (webui) {
    const extensions = joinPath(webui, 'extensions');
    const entries = await fs.readDirectory(extensions).catch(() => []);
    for (const entry of entries.filter((e) => e.kind !== 'file' && TAGCOMPLETE_FOLDER.test(e.name)).sort(byName)) {
      paths.push(...(await csvFilesIn(fs, joinPath(joinPath(extensions, entry.name), 'tags'))));
    }
  }
  return { paths: [...new Set(paths)], problems };
}

async function csvFilesIn(fs: LibraryFileSystem, folder: string): Promise<string[]> {
  const entries = await fs.readDirectory(folder).catch(() => []);
  return entries
    .filter((e) => e.kind !== 'directory' && e.name.toLowerCase().endsWith('.csv'))
    .sort(byName)
    .map((e) => joinPath(folder, e.name));
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export interface LoadedTags {
  index: TagIndex;
  /** Tags read from each list. */
  files: { path: string; count: number }[];
  problems: TagFileProblem[];
}

/**
 * The largest list read: tagcomplete's own lists are 3-4 MB and merged ones tens of MB; a
 * multi-gigabyte file named `.csv` would only exhaust the server's memory.
 */
export const MAX_LIST_BYTES = 256 * 1024 * 1024;

/** Reads and indexes the lists; an unreadable file or a malformed line is a problem, never a throw. */
export async function loadTagFiles(fs: LibraryFileSystem, paths: string[], maxBytes = MAX_LIST_BYTES): Promise<LoadedTags> {
  const parsed: { path: string; tags: TagRecord[] }[] = [];
  const problems: TagFileProblem[] = [];
  for (const path of paths) {
    let text: string;
    try {
      const { size } = await fs.stat(path);
      if (size > maxBytes) {
        problems.push({ file: path, line: 0, message: `${size.toLocaleString('en')} bytes is more than a tag list holds (at most ${maxBytes.toLocaleString('en')}); skipped` });
        continue;
      }
      text = await fs.readText(path);
    } catch (e) {
      problems.push({ file: path, line: 0, message: `cannot be read: ${e instanceof Error ? e.message : String(e)}` });
      continue;
    }
    const file = parseTagCsv(text, path);
    problems.push(...file.problems);
    parsed.push({ path, tags: file.tags });
  }
  return { index: TagIndex.build(parsed), files: parsed.map((p) => ({ path: p.path, count: p.tags.length })), problems };
}

/** `file:line: message`, as editors and terminals link it. */
export function formatTagFileProblem(problem: TagFileProblem): string {
  return problem.line > 0 ? `${problem.file}:${problem.line}: ${problem.message}` : `${problem.file}: ${problem.message}`;
}
