import { BackendError, ServerConnection } from './backend';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
/** A 2048² PNG in base64 is about 16 MiB; a batch of a few stays well under this. */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export interface HttpAnswer {
  status: number;
  body: Buffer;
  contentType: string;
}

/** The server's base URL, checked once: a typo gets a message, not a fetch TypeError. */
export function serverUrl(conn: ServerConnection): URL {
  let url: URL;
  try {
    url = new URL(conn.url);
  } catch {
    throw new BackendError('bad-input', `server URL '${conn.url}' is not a URL (expected e.g. http://127.0.0.1:7860)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BackendError('bad-input', `server URL '${conn.url}' must start with http:// or https://`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

export function endpoint(conn: ServerConnection, route: string): URL {
  return new URL(route.replace(/^\//, ''), serverUrl(conn));
}

export function authHeaders(conn: ServerConnection): Record<string, string> {
  if (conn.user === undefined && conn.password === undefined) return {};
  return { authorization: 'Basic ' + Buffer.from(`${conn.user ?? ''}:${conn.password ?? ''}`).toString('base64') };
}

/** What a failed fetch means for the user: the cause's code, never "fetch failed". */
export function transportError(e: unknown, conn: ServerConnection, what: string): BackendError {
  if (e instanceof BackendError) return e;
  const err = e as { name?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  const where = serverUrl(conn).origin;
  if (code === 'ECONNREFUSED') return new BackendError('unreachable', `${where} refused the connection (${what}): is the server running, and on this port?`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new BackendError('unreachable', `${where}: no such host (${what})`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new BackendError('unreachable', `${where} cannot be reached (${what})`);
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED')
    return new BackendError('dropped', `${where} closed the connection during ${what}: did the server stop or crash?`);
  return new BackendError('protocol', `${where}: ${what} failed: ${err.cause?.message ?? (e as Error).message ?? String(e)}`);
}

/**
 * One HTTP exchange with a timeout and a body size cap. Transport faults, 401 and oversize bodies
 * become BackendErrors; other statuses come back for the backend to read its own error shape.
 * `retry` (only for requests that change nothing on the server) tries once more after a dropped
 * connection.
 */
export async function httpRequest(
  conn: ServerConnection,
  method: 'GET' | 'POST',
  route: string,
  options: { json?: unknown; signal?: AbortSignal; timeoutMs?: number; what: string; retry?: boolean } = { what: 'a request' },
): Promise<HttpAnswer> {
  const attempts = options.retry ? 2 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await httpOnce(conn, method, route, options);
    } catch (e) {
      if (!(e instanceof BackendError) || e.kind !== 'dropped' || attempt >= attempts || options.signal?.aborted) throw e;
    }
  }
}

async function httpOnce(
  conn: ServerConnection,
  method: 'GET' | 'POST',
  route: string,
  options: { json?: unknown; signal?: AbortSignal; timeoutMs?: number; what: string },
): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cap = conn.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  const where = serverUrl(conn).origin;
  try {
    const headers: Record<string, string> = { ...authHeaders(conn), accept: 'application/json, image/*' };
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(endpoint(conn, route), { method, headers, body: options.json !== undefined ? JSON.stringify(options.json) : undefined, signal });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new BackendError('auth', `${where} refused the credentials (HTTP ${res.status}) for ${options.what}: check the user and password (A1111's --api-auth user:pass)`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > cap) {
      await res.body?.cancel();
      throw tooLarge(where, options.what, cap);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > cap) {
          await reader.cancel();
          throw tooLarge(where, options.what, cap);
        }
        chunks.push(Buffer.from(value));
      }
    }
    return { status: res.status, body: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? '' };
  } catch (e) {
    if (options.signal?.aborted) throw new BackendError('cancelled', 'render cancelled');
    if (timeout.signal.aborted) throw new BackendError('timeout', `${where} did not answer ${options.what} within ${Math.round(timeoutMs / 1000)} s`);
    throw transportError(e, conn, options.what);
  } finally {
    clearTimeout(timer);
  }
}

function tooLarge(where: string, what: string, cap: number): BackendError {
  return new BackendError('too-large', `${where} sent more than ${Math.round(cap / 1024 / 1024)} MiB for ${what}: refused (is the URL the webui's, and the batch small?)`);
}

/** Parses a JSON answer, with the route in the message when the server sent something else (an HTML login page...). */
export function parseJson<T>(answer: HttpAnswer, conn: ServerConnection, what: string): T {
  try {
    return JSON.parse(answer.body.toString('utf8')) as T;
  } catch {
    const start = answer.body.subarray(0, 80).toString('utf8').replace(/\s+/g, ' ');
    throw new BackendError('protocol', `${serverUrl(conn).origin} answered ${what} with something that is not JSON (HTTP ${answer.status}: '${start}'): is this the right server and backend?`);
  }
}
