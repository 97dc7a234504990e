import { createBackend, RenderBackend } from '../../../server/src/render/api';
import { CredentialStore } from './credentials';
import { RenderTarget } from './renderTarget';

/** The client for a server target, with the credentials stored for its URL (none: no Authorization header). */
export async function serverBackend(target: Exclude<RenderTarget, { kind: 'local' }>, credentials: CredentialStore): Promise<RenderBackend> {
  const login = await credentials.get(target.url);
  return createBackend(target.kind, { url: target.url, user: login?.user, password: login?.password });
}
