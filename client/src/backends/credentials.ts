import { EventEmitter, SecretStorage } from 'vscode';
import { dialogs } from '../dialogs';
import { renderSettings } from '../settings';
import { credentialKey, normalizeServerUrl } from './renderTarget';

/** A render server's HTTP Basic credentials (A1111's `--api-auth user:pass`, a proxy in front of ComfyUI/Swarm). */
export interface ServerCredentials {
  user: string;
  password: string;
}

/**
 * Render server credentials in VS Code's SecretStorage (the OS keychain), never in settings files: one
 * entry per server URL, so a workspace that points renders at another server never receives them.
 */
export class CredentialStore {
  private readonly changed = new EventEmitter<string>();
  /** The credentials of a server (its normalized URL) were set or cleared. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly secrets: SecretStorage) {}

  async get(url: string): Promise<ServerCredentials | undefined> {
    const stored = await this.secrets.get(credentialKey(url));
    if (!stored) return undefined;
    try {
      const parsed = JSON.parse(stored) as Partial<ServerCredentials>;
      return typeof parsed.user === 'string' && typeof parsed.password === 'string' ? { user: parsed.user, password: parsed.password } : undefined;
    } catch {
      return undefined;
    }
  }

  async set(url: string, credentials: ServerCredentials): Promise<void> {
    await this.secrets.store(credentialKey(url), JSON.stringify(credentials));
    this.changed.fire(normalizeServerUrl(url) ?? url);
  }

  async clear(url: string): Promise<void> {
    await this.secrets.delete(credentialKey(url));
    this.changed.fire(normalizeServerUrl(url) ?? url);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** What Set Render Server Credentials did, for its caller (the tests, the fault message's action). */
export type CredentialsOutcome = { status: 'set' | 'cleared'; server: string } | { status: 'cancelled' };

const CHANGE = 'Change the user and password';
const CLEAR = 'Clear the stored credentials';

/**
 * SD Prompt: Set Render Server Credentials…: for `sdPrompt.render.server` (asked for when none is set), a
 * user and a password, stored in SecretStorage; when some are stored already, a choice to change or clear
 * them. An empty user clears them too (a server without auth).
 */
export async function setRenderServerCredentials(store: CredentialStore): Promise<CredentialsOutcome> {
  let server = normalizeServerUrl(renderSettings().server);
  if (!server) {
    const typed = await dialogs.input({
      title: 'Render Server Credentials',
      prompt: 'The URL of the render server (sdPrompt.render.server is not set)',
      placeHolder: 'http://127.0.0.1:7860',
      ignoreFocusOut: true,
      validateInput: (v) => (normalizeServerUrl(v) ? undefined : 'A URL starting with http:// or https://'),
    });
    server = typed === undefined ? undefined : normalizeServerUrl(typed);
    if (!server) return { status: 'cancelled' };
  }
  const stored = await store.get(server);
  if (stored) {
    const choice = await dialogs.choose(`Credentials for ${server} (user ${stored.user})`, [CHANGE, CLEAR]);
    if (choice === undefined) return { status: 'cancelled' };
    if (choice === CLEAR) {
      await store.clear(server);
      return { status: 'cleared', server };
    }
  }
  const user = await dialogs.input({
    title: `Render Server Credentials (1/2): ${server}`,
    prompt: "The user name (A1111's --api-auth user:pass); leave empty for a server without a login",
    value: stored?.user ?? '',
    ignoreFocusOut: true,
  });
  if (user === undefined) return { status: 'cancelled' };
  if (user === '') {
    if (!stored) return { status: 'cancelled' };
    await store.clear(server);
    return { status: 'cleared', server };
  }
  const password = await dialogs.input({
    title: `Render Server Credentials (2/2): ${server}`,
    prompt: `The password of ${user}, kept in VS Code's secret storage`,
    password: true,
    ignoreFocusOut: true,
  });
  if (password === undefined) return { status: 'cancelled' };
  await store.set(server, { user, password });
  return { status: 'set', server };
}
