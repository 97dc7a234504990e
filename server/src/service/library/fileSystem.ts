/**
 * The file access the LoRA library needs, behind an interface so the service stays pure and
 * tests run on an in-memory tree. Paths are absolute, '/'-separated strings.
 */
export interface DirEntry {
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
}

export interface FileStat {
  kind: 'file' | 'directory' | 'other';
  size: number;
  mtimeMs: number;
}

export interface LibraryFileSystem {
  /** Entries of a folder; rejects for a missing or unreadable folder. */
  readDirectory(path: string): Promise<DirEntry[]>;
  /** Follows symlinks; rejects for a missing path or a broken link. */
  stat(path: string): Promise<FileStat>;
  /** The canonical path (symlinks resolved), for loop detection. */
  realPath(path: string): Promise<string>;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  readBytes(path: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: an open file for several reads (a header's length, then the header) without
   * reopening it each time; `readBytes` is used where this is absent.
   */
  open?(path: string): Promise<OpenFile>;
  /** Whole small files (sidecar JSON, civitai info). */
  readText(path: string): Promise<string>;
  /**
   * Calls `onChange` with the path of anything created, changed or removed in `folder` itself
   * (the catalog watches each folder it scanned: recursive watching is slow or missing on some
   * systems). Returns a disposer. Extra events are harmless.
   */
  watch?(folder: string, onChange: (path: string) => void): () => void;
}

export interface OpenFile {
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function joinPath(folder: string, name: string): string {
  return folder.endsWith('/') ? folder + name : `${folder}/${name}`;
}

export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? path : path.slice(i + 1);
}

export function dirName(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** `name.ext` → [`name`, `.ext`] as Python's os.path.splitext splits it. */
export function splitExt(fileName: string): [string, string] {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return [fileName, ''];
  return [fileName.slice(0, dot), fileName.slice(dot)];
}
