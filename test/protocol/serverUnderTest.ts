import * as cp from 'child_process';
import * as path from 'path';
import {
  ConfigurationRequest,
  createProtocolConnection,
  Diagnostic,
  DidOpenTextDocumentNotification,
  InitializedNotification,
  InitializeRequest,
  LogMessageNotification,
  ProtocolConnection,
  PublishDiagnosticsNotification,
  PublishDiagnosticsParams,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';

/** The built language server (`node esbuild.mjs` writes it), run over stdio by the protocol tests. */
const SERVER = path.resolve(__dirname, '../../../dist/server.js');
export const URI = 'file:///work/example.prompt';
export const TEXT = 'masterpiece, (best quality:1.2), <lora: add_detail :0.8>, 1girl BREAK night sky\nNegative prompt: lowres, bad hands\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512\n';

/** The built server over stdio, with a client that answers workspace/configuration. */
export class ServerUnderTest {
  readonly process: cp.ChildProcess;
  readonly connection: ProtocolConnection;
  settings: unknown = { lora: { weightRange: { min: 0, max: 1 } } };
  /** What the server wrote to the client's log (`window/logMessage`), in order. */
  readonly logged: string[] = [];
  private readonly published: PublishDiagnosticsParams[] = [];
  private waiters: (() => void)[] = [];

  constructor() {
    this.process = cp.spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.connection = createProtocolConnection(new StreamMessageReader(this.process.stdout!), new StreamMessageWriter(this.process.stdin!));
    this.connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => this.settings));
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.published.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.connection.onNotification(LogMessageNotification.type, (m) => {
      this.logged.push(m.message);
    });
    this.connection.listen();
  }

  async initialize(pull: boolean) {
    await this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: pull ? { diagnostic: { dynamicRegistration: false } } : { publishDiagnostics: {} },
      },
    });
    await this.connection.sendNotification(InitializedNotification.type, {});
  }

  /** The next published diagnostics for `version` (awaits the notification; no sleeps). */
  async diagnosticsFor(version: number): Promise<Diagnostic[]> {
    for (;;) {
      const hit = this.published.find((p) => p.version === version);
      if (hit) return hit.diagnostics;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Diagnostics of the first publish after `count` publishes (awaits it). */
  async publishAfter(count: number): Promise<PublishDiagnosticsParams> {
    while (this.published.length <= count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.published[count];
  }

  get publishCount() {
    return this.published.length;
  }

  open(text = TEXT) {
    return this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri: URI, languageId: 'sd-prompt', version: 1, text },
    });
  }

  dispose() {
    this.connection.dispose();
    this.process.kill();
  }
}

