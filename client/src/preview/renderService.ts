import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { LogOutputChannel, Uri } from 'vscode';
import type { SkippedLora } from '../../../common/src/protocol';
import { BackendKind, BackendResult, RenderHost, RenderRequest, RenderResult } from '../../../server/src/render/api';
import { backendRecordFields, RecordFields } from '../backends/backendRecord';

/** A finished render as kept in the output folder: the PNG and this record beside it (`.json`). */
export interface RenderRecord {
  /** The PNG's file name in the output folder (also the record's id). */
  id: string;
  png: string;
  /** The `.prompt` file (URI string) it was rendered from. */
  source: string;
  date: string;
  infotext: string;
  seed: number;
  steps: number;
  sampler: string;
  width: number;
  height: number;
  /** The execution provider that ran it, or the backend (`a1111`, `comfyui`, `swarmui`) for a server's render. */
  device: RenderResult['device'] | BackendKind;
  attempts: RenderResult['attempts'];
  timings: RenderResult['timings'];
  loras: RenderResult['loras'];
  /** The prompt's LoRAs the render left out (not in the library, ...); absent in records written before it. */
  skipped?: SkippedLora[];
  /** What the render did differently from A1111 (a Hires. fix it could not run); absent in records written before it. */
  notes?: string[];
  /** A render on the user's webui (`sdPrompt.render.backend`): which, where, the checkpoint it named, the whole time. */
  backend?: { kind: BackendKind; server: string; model?: string; elapsedMs: number };
  /** The dynamic-prompt variant rendered (`variant for seed 1234: red ball`), when the file had one. */
  variant?: string;
}

/** How many earlier renders of a file the history keeps. */
const HISTORY_LIMIT = 24;

/**
 * The extension host's renderer: one RenderHost (its worker thread loads the model once and keeps
 * it between renders), and the output folder where every finished render's PNG is written.
 */
export class RenderService {
  private host: RenderHost | undefined;

  constructor(
    private readonly workerPath: string,
    readonly outputFolder: Uri,
    private readonly log: LogOutputChannel,
  ) {}

  render(request: RenderRequest, options: Parameters<RenderHost['render']>[1]): Promise<RenderResult> {
    this.host ??= new RenderHost(this.workerPath);
    return this.host.render(request, options);
  }

  /** Frees the model's memory now (the model or device setting changed); the next render loads again. */
  async release(): Promise<void> {
    if (!this.host) return;
    this.log.info('render: releasing the model sessions (settings changed)');
    await this.host.release();
  }

  /** Writes the PNG (it carries the infotext) and its record into the output folder. */
  async save(source: Uri, result: RenderResult, skipped: SkippedLora[] = [], variant?: string): Promise<RenderRecord> {
    const { infotext, seed, steps, sampler, width, height, device, attempts, timings, loras } = result;
    return this.write(source, new Uint8Array(result.png), { infotext, seed, steps, sampler, width, height, device, attempts, timings, loras, skipped, notes: result.notes, ...(variant ? { variant } : {}) });
  }

  /** A server's render (`sdPrompt.render.backend`): its PNG (with the server's infotext) and record, as a local one's. */
  saveFromBackend(source: Uri, result: BackendResult, elapsedMs: number, variant?: string): Promise<RenderRecord> {
    return this.write(source, result.png, backendRecordFields(result, elapsedMs, variant));
  }

  private async write(source: Uri, bytes: Uint8Array, fields: RecordFields): Promise<RenderRecord> {
    const folder = this.outputFolder.fsPath;
    await fs.promises.mkdir(folder, { recursive: true });
    const date = new Date();
    const stamp = date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const id = `${historyKey(source)}-${stamp}-${date.getMilliseconds()}-${fields.seed}.png`;
    const png = path.join(folder, id);
    await fs.promises.writeFile(png, bytes);
    const record: RenderRecord = { id, png, source: source.toString(), date: date.toISOString(), ...fields };
    await fs.promises.writeFile(png.replace(/\.png$/, '.json'), JSON.stringify(record, null, 2));
    return record;
  }

  /** The earlier renders of a file, newest first (records whose PNG is gone are skipped). */
  async history(source: Uri): Promise<RenderRecord[]> {
    const folder = this.outputFolder.fsPath;
    const prefix = `${historyKey(source)}-`;
    const names = await fs.promises.readdir(folder).catch(() => [] as string[]);
    const records: RenderRecord[] = [];
    for (const name of names.filter((n) => n.startsWith(prefix) && n.endsWith('.json'))) {
      try {
        const record = JSON.parse(await fs.promises.readFile(path.join(folder, name), 'utf8')) as RenderRecord;
        if (fs.existsSync(path.join(folder, record.id))) records.push({ ...record, png: path.join(folder, record.id) });
      } catch (e) {
        this.log.warn(`render history: cannot read ${name}: ${e}`);
      }
    }
    return records.sort((a, b) => b.date.localeCompare(a.date)).slice(0, HISTORY_LIMIT);
  }

  async dispose(): Promise<void> {
    const host = this.host;
    this.host = undefined;
    await host?.dispose();
  }
}

/** File names start with the source's name and a hash of its URI, so two `a.prompt` files keep apart. */
function historyKey(source: Uri): string {
  const stem = path.basename(source.path).replace(/\.prompt$/i, '').replace(/[^\w.-]+/g, '_').slice(0, 60) || 'untitled';
  return `${stem}-${createHash('sha256').update(source.toString()).digest('hex').slice(0, 8)}`;
}
