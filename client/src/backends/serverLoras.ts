import { Disposable, LogOutputChannel, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { SERVER_LORAS_NOTIFICATION, ServerLorasParams } from '../../../common/src/protocol';
import { renderSettings } from '../settings';
import { CredentialStore } from './credentials';
import { renderTarget } from './renderTarget';
import { serverBackend } from './serverBackend';

/**
 * Tells the language server which LoRAs the render server has, so a `<lora:>` tag the server lacks is a
 * diagnostic before the render fails: sent when the extension starts, when the backend, its server or its
 * credentials change, and after each render there (a LoRA added to the webui meanwhile). A local backend,
 * or a list that could not be fetched, sends `loras: null` (with `error`), which clears it.
 */
export class ServerLoraFeed implements Disposable {
  private inFlight: AbortController | undefined;
  private readonly subscriptions: Disposable[];

  constructor(
    private readonly client: LanguageClient,
    private readonly credentials: CredentialStore,
    private readonly log: LogOutputChannel,
  ) {
    this.subscriptions = [
      workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('sdPrompt.render.backend') || e.affectsConfiguration('sdPrompt.render.server')) void this.refresh();
      }),
      credentials.onDidChange(() => void this.refresh()),
    ];
  }

  /** Fetches the list for the current settings and sends it; an older fetch still running is given up. */
  async refresh(): Promise<ServerLorasParams> {
    this.inFlight?.abort();
    const abort = new AbortController();
    this.inFlight = abort;
    const settings = renderSettings();
    const target = renderTarget(settings.backend, settings.server);
    let params: ServerLorasParams;
    if ('problem' in target) {
      params = { backend: settings.backend, server: settings.server, loras: null, error: target.problem };
    } else if (target.kind === 'local') {
      params = { backend: 'local', server: '', loras: null };
    } else {
      try {
        const backend = await serverBackend(target, this.credentials);
        const loras = await backend.listLoras(abort.signal);
        params = { backend: target.kind, server: target.url, loras: loras.map(({ name, alias, path }) => ({ name, alias, path })) };
        this.log.info(`render server: ${target.url} has ${loras.length} LoRA(s)`);
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        params = { backend: target.kind, server: target.url, loras: null, error };
        if (!abort.signal.aborted) this.log.warn(`render server: could not fetch the LoRA list of ${target.url}: ${error}`);
      }
    }
    // A newer refresh has started meanwhile: its answer is the one that counts.
    if (this.inFlight !== abort) return params;
    this.inFlight = undefined;
    try {
      await this.client.sendNotification(SERVER_LORAS_NOTIFICATION, params);
    } catch (e) {
      // The language server is stopping or restarting: it asks nothing of us, and the next change sends again.
      this.log.debug(`render server: the LoRA list was not delivered: ${e instanceof Error ? e.message : String(e)}`);
    }
    return params;
  }

  dispose(): void {
    this.inFlight?.abort();
    for (const s of this.subscriptions) s.dispose();
  }
}
