import { DirEntry, FileStat, LibraryFileSystem, dirName } from './fileSystem';

/**
 * An in-memory `LibraryFileSystem` for tests: files, folders, symlinks (loops included), unreadable
 * entries, deterministic mtimes, and a `watch` fed by this class's own mutators.
 */

type MemoryNode =
  | { kind: 'file'; bytes: Uint8Array; mtimeMs: number; unreadable: boolean }
  | { kind: 'directory'; mtimeMs: number; unreadable: boolean }
  | { kind: 'symlink'; target: string; mtimeMs: number };

/** Like Linux's MAXSYMLINKS: more hops than this while resolving one path is reported as a loop. */
const MAX_SYMLINK_HOPS = 40;

/** A fixed starting clock so mtimes are the same on every run; each mutation advances it by 1 s. */
const FIRST_MTIME_MS = 1_700_000_000_000;

/** An Error shaped like Node's fs errors (`code`, `syscall`, `path`) so callers can branch on `code`. */
function fsError(code: string, description: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${path}'`), { code, syscall, path });
}

function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

/** `/a/./b//c/../d` → `/a/b/d`, without following links (the mutators name links themselves). */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of components(path)) {
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

function isInside(path: string, folder: string): boolean {
  return folder === '/' || path === folder || path.startsWith(folder + '/');
}

export interface ReadRecord {
  path: string;
  offset: number;
  length: number;
}

export class MemoryFileSystem implements LibraryFileSystem {
  private readonly nodes = new Map<string, MemoryNode>([['/', { kind: 'directory', mtimeMs: FIRST_MTIME_MS, unreadable: false }]]);
  private readonly watchers = new Set<{ folder: string; onChange: (path: string) => void }>();
  private clock = FIRST_MTIME_MS;
  /** Every `readBytes` call, so tests can assert what was (not) read. */
  readonly readLog: ReadRecord[] = [];

  // ---- mutators -------------------------------------------------------------------------------

  /** Creates or replaces a file, creating missing parent folders. `mtimeMs` defaults to the clock. */
  writeFile(path: string, content: Uint8Array | string, options: { mtimeMs?: number } = {}): void {
    const at = normalizePath(path);
    this.mkdir(dirName(at), false);
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : new Uint8Array(content);
    this.nodes.set(at, { kind: 'file', bytes, mtimeMs: options.mtimeMs ?? this.tick(), unreadable: false });
    this.emit(at);
  }

  /** Creates a folder and its missing parents (like `mkdir -p`). */
  mkdir(path: string, notify = true): void {
    const at = normalizePath(path);
    let current = '';
    for (const part of components(at)) {
      current += '/' + part;
      const existing = this.nodes.get(current);
      if (existing === undefined) {
        this.nodes.set(current, { kind: 'directory', mtimeMs: this.tick(), unreadable: false });
        if (notify) this.emit(current);
      }
    }
  }

  /** A link at `path` pointing at `target` (absolute, or relative to the link's folder); may dangle. */
  symlink(path: string, target: string): void {
    const at = normalizePath(path);
    this.mkdir(dirName(at), false);
    this.nodes.set(at, { kind: 'symlink', target, mtimeMs: this.tick() });
    this.emit(at);
  }

  /** Removes a file, link or whole folder tree; a missing path is ignored. */
  remove(path: string): void {
    const at = normalizePath(path);
    const doomed = [...this.nodes.keys()].filter((key) => key !== '/' && isInside(key, at));
    for (const key of doomed) this.nodes.delete(key);
    if (doomed.length > 0) this.emit(at);
  }

  /** Moves a file, link or folder tree; reports both the old and the new path. */
  rename(from: string, to: string): void {
    const source = normalizePath(from);
    const target = normalizePath(to);
    if (!this.nodes.has(source)) throw fsError('ENOENT', 'no such file or directory', 'rename', source);
    this.mkdir(dirName(target), false);
    const moved = [...this.nodes.entries()].filter(([key]) => isInside(key, source));
    for (const [key] of moved) this.nodes.delete(key);
    for (const [key, node] of moved) this.nodes.set(target + key.slice(source.length), node);
    this.emit(source);
    this.emit(target);
  }

  /** Makes a folder unlistable or a file unreadable (EACCES), as permissions would. */
  setUnreadable(path: string, unreadable = true): void {
    const node = this.nodes.get(normalizePath(path));
    if (node !== undefined && node.kind !== 'symlink') node.unreadable = unreadable;
  }

  // ---- LibraryFileSystem ----------------------------------------------------------------------

  async readDirectory(path: string): Promise<DirEntry[]> {
    const at = this.resolve(path, 'scandir');
    const node = this.nodes.get(at);
    if (node === undefined) throw fsError('ENOENT', 'no such file or directory', 'scandir', path);
    if (node.kind !== 'directory') throw fsError('ENOTDIR', 'not a directory', 'scandir', path);
    if (node.unreadable) throw fsError('EACCES', 'permission denied', 'scandir', path);
    const entries: DirEntry[] = [];
    for (const [key, child] of this.nodes) {
      if (key !== '/' && dirName(key) === at) entries.push({ name: key.slice(key.lastIndexOf('/') + 1), kind: child.kind });
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stat(path: string): Promise<FileStat> {
    const node = this.nodes.get(this.resolve(path, 'stat'));
    if (node === undefined || node.kind === 'symlink') throw fsError('ENOENT', 'no such file or directory', 'stat', path);
    return { kind: node.kind, size: node.kind === 'file' ? node.bytes.length : 0, mtimeMs: node.mtimeMs };
  }

  async realPath(path: string): Promise<string> {
    const at = this.resolve(path, 'realpath');
    if (!this.nodes.has(at)) throw fsError('ENOENT', 'no such file or directory', 'realpath', path);
    return at;
  }

  async readBytes(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.readLog.push({ path, offset, length });
    const bytes = this.fileBytes(path, 'read');
    const start = Math.min(Math.max(0, offset), bytes.length);
    return bytes.slice(start, Math.min(bytes.length, start + Math.max(0, length)));
  }

  async readText(path: string): Promise<string> {
    return new TextDecoder().decode(this.fileBytes(path, 'open'));
  }

  watch(folder: string, onChange: (path: string) => void): () => void {
    const watcher = { folder: normalizePath(folder), onChange };
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  private tick(): number {
    this.clock += 1000;
    return this.clock;
  }

  private emit(path: string): void {
    for (const watcher of [...this.watchers]) {
      if (isInside(path, watcher.folder)) watcher.onChange(path);
    }
  }

  private fileBytes(path: string, syscall: string): Uint8Array {
    const node = this.nodes.get(this.resolve(path, syscall));
    if (node === undefined || node.kind === 'symlink') throw fsError('ENOENT', 'no such file or directory', syscall, path);
    if (node.kind === 'directory') throw fsError('EISDIR', 'illegal operation on a directory', syscall, path);
    if (node.unreadable) throw fsError('EACCES', 'permission denied', syscall, path);
    return node.bytes;
  }

  /**
   * Follows every symlink in `path` (in the middle and at the end) and returns the canonical path,
   * which may not exist. Counts hops rather than remembering visited links, as the kernel does, so a
   * loop and a very long chain both end as ELOOP.
   */
  private resolve(path: string, syscall: string): string {
    let pending = components(path);
    let current = '';
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '..') {
        current = current === '' ? '' : dirName(current) === '/' ? '' : dirName(current);
        continue;
      }
      const candidate = current + '/' + part;
      const node = this.nodes.get(candidate);
      if (node?.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw fsError('ELOOP', 'too many symbolic links encountered', syscall, path);
        const target = node.target.startsWith('/') ? node.target : `${current}/${node.target}`;
        pending = [...components(target), ...pending];
        current = '';
        continue;
      }
      if (node !== undefined && node.kind === 'file' && pending.length > 0) {
        throw fsError('ENOTDIR', 'not a directory', syscall, path);
      }
      current = candidate;
    }
    return current === '' ? '/' : current;
  }
}
