import * as fs from 'fs';
import * as path from 'path';
import { DirEntry, FileStat, LibraryFileSystem, OpenFile } from '../service/library/fileSystem';

/** The library's file access on the real disk (Node). */
export class NodeFileSystem implements LibraryFileSystem {
  async readDirectory(folder: string): Promise<DirEntry[]> {
    const entries = await fs.promises.readdir(folder, { withFileTypes: true });
    return entries.map((e) => ({
      name: e.name,
      kind: e.isSymbolicLink() ? 'symlink' : e.isDirectory() ? 'directory' : e.isFile() ? 'file' : 'other',
    }));
  }

  async stat(p: string): Promise<FileStat> {
    const st = await fs.promises.stat(p);
    return { kind: st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other', size: st.size, mtimeMs: st.mtimeMs };
  }

  realPath(p: string): Promise<string> {
    return fs.promises.realpath(p);
  }

  async readBytes(p: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await fs.promises.open(p, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async open(p: string): Promise<OpenFile> {
    const handle = await fs.promises.open(p, 'r');
    return {
      read: async (offset, length) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      },
      close: () => handle.close(),
    };
  }

  readText(p: string): Promise<string> {
    return fs.promises.readFile(p, 'utf8');
  }

  /**
   * One folder, not recursive: Node 20's recursive watching on Linux polls every file with
   * stat watchers (seconds of CPU for 10,000 LoRAs); the catalog watches each folder instead.
   */
  watch(folder: string, onChange: (p: string) => void): () => void {
    const watcher = fs.watch(folder, { persistent: false }, (_event, file) => {
      if (file) onChange(path.join(folder, file.toString()).split(path.sep).join('/'));
      else onChange(folder);
    });
    watcher.on('error', () => watcher.close());
    return () => watcher.close();
  }
}
