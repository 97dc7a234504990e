import { BACKEND_KINDS, BackendKind } from '../../../server/src/render/api';

/**
 * Where Render Preview renders, from `sdPrompt.render.backend` and `sdPrompt.render.server`: this computer
 * (`local`) or the user's webui at a URL. Pure, so the choice is unit-tested without VS Code.
 */
export type RenderTarget = { kind: 'local' } | { kind: BackendKind; url: string };

/** A backend setting that cannot be used as it is: what to tell the person (with Open Settings). */
export interface RenderTargetProblem {
  problem: string;
}

/** How the person knows each backend (picker, status bar, messages). */
export const BACKEND_LABELS: Record<BackendKind, string> = {
  a1111: 'AUTOMATIC1111/Forge',
  comfyui: 'ComfyUI',
  swarmui: 'SwarmUI',
};

export function isBackendKind(kind: string): kind is BackendKind {
  return (BACKEND_KINDS as readonly string[]).includes(kind);
}

export function renderTarget(backend: string, server: string): RenderTarget | RenderTargetProblem {
  if (backend === 'local' || backend === '') return { kind: 'local' };
  if (!isBackendKind(backend)) return { problem: `sdPrompt.render.backend '${backend}' is none of local, ${BACKEND_KINDS.join(', ')}` };
  const url = normalizeServerUrl(server);
  if (url === undefined) {
    return {
      problem: server.trim()
        ? `sdPrompt.render.server '${server.trim()}' is not an http:// or https:// URL (e.g. http://127.0.0.1:7860)`
        : `sdPrompt.render.backend is ${backend}, but sdPrompt.render.server names no server: set its URL (e.g. http://127.0.0.1:7860)`,
    };
  }
  return { kind: backend, url };
}

/**
 * The server URL as credentials are keyed and the status bar names it: scheme, host, port and path, without
 * a trailing slash, query or credentials in the URL. Undefined for anything that is not an http(s) URL.
 */
export function normalizeServerUrl(server: string): string | undefined {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * The SecretStorage key of a server's credentials: one per normalized URL, so a different server (a
 * workspace pointing renders elsewhere, a typo'd port) never receives them.
 */
export function credentialKey(url: string): string {
  return `sdPrompt.renderServer:${normalizeServerUrl(url) ?? url.trim()}`;
}

/** `AUTOMATIC1111/Forge at http://host:7860`, or `this computer (cpu)` for a local render. */
export function describeTarget(target: RenderTarget, device: string): string {
  return target.kind === 'local' ? `this computer (${device})` : `${BACKEND_LABELS[target.kind]} at ${target.url}`;
}
