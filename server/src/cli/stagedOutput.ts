import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { LoraMergeReport } from '../../../common/src/mergeReport';

/**
 * Where `merge` and `render` put their output. Everything is checked before the work starts
 * (an unwritable folder was found only after a whole render, as a raw errno), written into a
 * hidden sibling (`.NAME.sd-prompt-PID-XXXXXX`), and renamed into place at the end: a failure or a
 * crash leaves nothing half-written under the name the user gave, and a failure leaves nothing at all.
 *
 * `merge --force` replaced whatever `--out` named: `--out` a parent of the model folder deleted the
 * model and everything beside it. Now `--force` replaces only a folder an earlier merge wrote (it
 * carries MERGE_MARK), never one holding the model, a LoRA or the current folder, nor `/`; paths are
 * compared after resolving symbolic links.
 */
export const MERGE_MARK = 'sd-prompt-merge.json';
const WRITTEN_BY = 'sd-prompt merge';

/** The output cannot be (or must not be) written: exit 1 with the reason, nothing written. */
export class OutputError extends Error {}

export interface MergeMark {
  writtenBy: typeof WRITTEN_BY;
  source: string;
  /** Each LoRA merged: the part of its merge report that says what went in. */
  loras: Pick<LoraMergeReport, 'name' | 'file' | 'te' | 'unet' | 'dyn' | 'matched'>[];
}

/** A folder written whole in a hidden sibling, then renamed to `--out`. */
export class StagedFolder {
  private constructor(
    /** The output folder, symbolic links resolved. */
    readonly target: string,
    /** Where to write; becomes `target` on commit. */
    readonly staging: string,
    private readonly replaces: boolean,
    private readonly createdFolders: string[],
    private readonly stopCleanup: () => void,
  ) {}

  /** Checks `out` (see the file comment) and creates the staging folder beside it. */
  static create(out: string, o: { force: boolean; source: string; loras: string[] }): StagedFolder {
    const target = resolveReal(out);
    if (path.dirname(target) === target) throw new OutputError(`--out ${out} is the root folder: a merge writes a new folder of its own`);
    const source = resolveReal(o.source);
    if (target === source || isInside(target, source)) throw new OutputError(`--out ${out} is inside the model folder ${o.source}: choose another folder (the source is never written)`);
    if (isInside(source, target)) throw new OutputError(`--out ${out} contains the model folder ${o.source}: a merge never replaces a folder its model is in; choose another folder`);
    for (const lora of o.loras) {
      if (isInside(resolveReal(lora), target)) throw new OutputError(`--out ${out} contains the LoRA ${lora}: choose another folder`);
    }
    const cwd = resolveReal(process.cwd());
    if (cwd === target || isInside(cwd, target)) throw new OutputError(`--out ${out} contains the current folder: run the merge from outside it`);
    const stat = statOf(target);
    let replaces = false;
    if (stat) {
      if (!stat.isDirectory()) throw new OutputError(`--out ${out} exists and is not a folder: choose a new folder name`);
      if (fs.readdirSync(target).length > 0) {
        if (!o.force) throw new OutputError(`${out} already exists: pass --force to replace it (--force replaces only a folder an earlier merge wrote)`);
        if (!isMergeOutput(target)) {
          throw new OutputError(
            `${out} was not written by sd-prompt merge (it has no ${MERGE_MARK}): --force replaces only an earlier merge's output. Choose a new folder, or remove this one yourself.`,
          );
        }
      }
      replaces = true;
    }
    const parent = path.dirname(target);
    const createdFolders = makeFolders(parent, out);
    removeStaleStaging(parent, path.basename(target));
    // Listening before the folder exists: a signal between the two would leave it.
    const cleanup = removeIfInterrupted();
    let staging: string;
    try {
      staging = cleanup.track(fs.mkdtempSync(path.join(parent, `${stagingPrefix(path.basename(target))}${process.pid}-`)));
    } catch (e) {
      cleanup.dispose();
      removeFolders(createdFolders);
      throw new OutputError(`cannot write in ${parent} (for --out ${out}): ${errnoText(e)}`);
    }
    return new StagedFolder(target, staging, replaces, createdFolders, cleanup.dispose);
  }

  /** Marks the staged folder as a merge's output and moves it to the target, replacing an earlier merge's. */
  commit(mark: Omit<MergeMark, 'writtenBy'>): void {
    try {
      fs.writeFileSync(path.join(this.staging, MERGE_MARK), JSON.stringify({ writtenBy: WRITTEN_BY, ...mark }, null, 2) + '\n');
      if (this.replaces) {
        // The old output moves aside first, so a failed rename can put it back.
        const old = `${path.join(path.dirname(this.target), stagingPrefix(path.basename(this.target)))}${process.pid}-old-${crypto.randomBytes(4).toString('hex')}`;
        fs.renameSync(this.target, old);
        try {
          fs.renameSync(this.staging, this.target);
        } catch (e) {
          fs.renameSync(old, this.target);
          throw e;
        }
        fs.rmSync(old, { recursive: true, force: true });
      } else fs.renameSync(this.staging, this.target);
    } catch (e) {
      this.abandon();
      throw new OutputError(`cannot write ${this.target}: ${errnoText(e)}`);
    }
    this.stopCleanup();
  }

  /** Removes everything this output wrote (the staging folder and folders created for it). */
  abandon(): void {
    fs.rmSync(this.staging, { recursive: true, force: true });
    removeFolders(this.createdFolders);
    this.stopCleanup();
  }
}

/** A file written under a hidden name beside `--out`, renamed into place at the end. */
export class StagedFile {
  private constructor(
    readonly target: string,
    /** Where the output is written before it is renamed to `target` (`commit`, or `commitWritten` for a caller that streams it). */
    readonly staging: string,
    private readonly stopCleanup: () => void,
  ) {}

  /** Checks that `out` can be written (creating its hidden sibling now) and is none of `keep`. */
  static create(out: string, keep: { path: string; what: string }[]): StagedFile {
    const target = resolveReal(out);
    if (statOf(target)?.isDirectory()) throw new OutputError(`--out ${out} is a folder: give a file name, such as ${path.join(out, 'image.png')}`);
    for (const k of keep) {
      if (resolveReal(k.path) === target) throw new OutputError(`--out ${out} is ${k.what}: choose another file name`);
    }
    const parent = path.dirname(target);
    const parentStat = statOf(parent);
    const shownParent = path.dirname(path.resolve(out));
    if (!parentStat) throw new OutputError(`cannot write ${out}: the folder ${shownParent} does not exist`);
    if (!parentStat.isDirectory()) throw new OutputError(`cannot write ${out}: ${shownParent} is a file, not a folder`);
    const staging = path.join(parent, `${stagingPrefix(path.basename(target))}${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    const cleanup = removeIfInterrupted();
    try {
      fs.closeSync(fs.openSync(cleanup.track(staging), 'wx'));
    } catch (e) {
      cleanup.dispose();
      throw new OutputError(`cannot write in ${parent} (for --out ${out}): ${errnoText(e)}`);
    }
    return new StagedFile(target, staging, cleanup.dispose);
  }

  commit(bytes: Uint8Array): void {
    try {
      fs.writeFileSync(this.staging, bytes);
      fs.renameSync(this.staging, this.target);
    } catch (e) {
      this.abandon();
      throw new OutputError(`cannot write ${this.target}: ${errnoText(e)}`);
    }
    this.stopCleanup();
  }

  /** Renames what the caller wrote at `staging` into place. */
  commitWritten(): void {
    try {
      fs.renameSync(this.staging, this.target);
    } catch (e) {
      this.abandon();
      throw new OutputError(`cannot write ${this.target}: ${errnoText(e)}`);
    }
    this.stopCleanup();
  }

  abandon(): void {
    fs.rmSync(this.staging, { force: true });
    this.stopCleanup();
  }
}

/** Whether `folder` holds a merge's mark (see MERGE_MARK). */
export function isMergeOutput(folder: string): boolean {
  try {
    const mark = JSON.parse(fs.readFileSync(path.join(folder, MERGE_MARK), 'utf8'));
    return mark?.writtenBy === WRITTEN_BY;
  } catch {
    return false;
  }
}

function stagingPrefix(name: string): string {
  return `.${name}.sd-prompt-`;
}

/** The absolute path with symbolic links resolved as far as the path exists. */
function resolveReal(p: string): string {
  const absolute = path.resolve(p);
  const rest: string[] = [];
  let at = absolute;
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch {
      const up = path.dirname(at);
      if (up === at) return absolute;
      rest.push(path.basename(at));
      at = up;
    }
  }
}

function isInside(p: string, folder: string): boolean {
  return p.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep);
}

function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** Creates `folder` and missing parents; returns those it created, deepest first. */
function makeFolders(folder: string, out: string): string[] {
  let existing = folder;
  while (!statOf(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (!statOf(existing)?.isDirectory()) throw new OutputError(`cannot write --out ${out}: ${existing} is a file, not a folder`);
  let first: string | undefined;
  try {
    first = fs.mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw new OutputError(`cannot create ${folder} (for --out ${out}): ${errnoText(e)}`);
  }
  const created: string[] = [];
  for (let at = folder; first !== undefined; at = path.dirname(at)) {
    created.push(at);
    if (at === first) break;
  }
  return created;
}

function removeFolders(deepestFirst: string[]): void {
  for (const folder of deepestFirst) {
    try {
      fs.rmdirSync(folder);
    } catch {
      return; // not empty: someone else wrote there meanwhile
    }
  }
}

/** Staging left by a merge or render that was killed (its process is gone) is removed by the next. */
function removeStaleStaging(parent: string, name: string): void {
  const prefix = stagingPrefix(name);
  let entries: string[];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(entry.slice(prefix.length))?.[1]);
    if (!pid || pid === process.pid || isRunning(pid)) continue;
    fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it runs, as another user
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Removes the tracked path if the process exits or is interrupted (Ctrl-C, SIGTERM, a closed
 * terminal) before the output is committed, then lets the signal end the process as it would have.
 */
function removeIfInterrupted(): { track: (p: string) => string; dispose: () => void } {
  let tracked: string | undefined;
  const remove = () => {
    if (tracked !== undefined) fs.rmSync(tracked, { recursive: true, force: true });
  };
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      remove();
      dispose();
      // Raised again: the default action ends the process, or other listeners (the merge's own
      // temp cleanup) run once more and end it.
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  process.on('exit', remove);
  const dispose = () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
    process.removeListener('exit', remove);
  };
  return {
    track: (p) => (tracked = p),
    dispose,
  };
}

/** An errno in words, with its code (`permission denied (EACCES)`). */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a part of the path is a file, not a folder',
    ENOTEMPTY: 'the folder is not empty',
    EEXIST: 'it exists',
  };
  return err?.code && known[err.code] ? `${known[err.code]} (${err.code})` : err?.code ?? String(err?.message ?? e);
}
