import WebSocket from 'ws';
import { BackendError, ServerConnection } from './backend';
import { authHeaders, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS, endpoint, serverUrl, transportError } from './serverHttp';

/**
 * Messages that arrive between the socket's opening and `followSocket` (while the render is being
 * queued over HTTP): a fast server sends its first progress then, and ws drops what no listener takes.
 */
const early = new WeakMap<WebSocket, { messages: [Buffer, boolean][]; listener: (data: Buffer, binary: boolean) => void }>();

/**
 * A WebSocket to the server (ComfyUI's `/ws`, Swarm's `/API/GenerateText2ImageWS`), open, with
 * the connection's credentials, a message size cap, and one clear message for each way it fails.
 */
export async function openSocket(conn: ServerConnection, route: string, what: string): Promise<WebSocket> {
  const url = endpoint(conn, route);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(url, {
    headers: authHeaders(conn),
    maxPayload: conn.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    handshakeTimeout: conn.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  const where = serverUrl(conn).origin;
  return new Promise<WebSocket>((resolve, reject) => {
    socket.once('open', () => {
      socket.removeAllListeners('error');
      socket.removeAllListeners('unexpected-response');
      const messages: [Buffer, boolean][] = [];
      const listener = (data: Buffer, binary: boolean) => messages.push([data, binary]);
      socket.on('message', listener);
      socket.on('error', () => undefined);
      early.set(socket, { messages, listener });
      resolve(socket);
    });
    socket.once('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      socket.terminate();
      if (status === 401 || status === 403) reject(new BackendError('auth', `${where} refused the credentials (HTTP ${status}) for ${what}: check the user and password`));
      else reject(new BackendError('protocol', `${where} has no WebSocket at ${url.pathname} (HTTP ${status}) for ${what}: is this the right server and backend?`));
    });
    socket.once('error', (e) => {
      socket.terminate();
      reject(/timed out/i.test(e.message) ? new BackendError('timeout', `${where} did not open ${what} in time`) : transportError(e, conn, what));
    });
  });
}

/**
 * Follows a socket until `onMessage` returns a value: the render's outcome. Rejects with one
 * message each for a socket closed early, silence longer than the idle timeout, an oversize
 * message, and cancellation (after `onCancel`, which tells the server to stop).
 */
export function followSocket<T>(
  socket: WebSocket,
  conn: ServerConnection,
  what: string,
  onMessage: (data: Buffer, binary: boolean) => T | undefined,
  options: { signal?: AbortSignal; onCancel?: () => Promise<void>; onClose?: (code: number) => T | undefined },
): Promise<T> {
  const where = serverUrl(conn).origin;
  const idleMs = conn.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: BackendError | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.close();
      if (error) reject(error);
      else resolve(value as T);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new BackendError('timeout', `${where} sent nothing for ${Math.round(idleMs / 1000)} s during ${what}: gave up (the server may still be busy)`)), idleMs);
    };
    const onAbort = () => {
      const cancel = options.onCancel ? options.onCancel().catch(() => undefined) : Promise.resolve();
      void cancel.then(() => finish(new BackendError('cancelled', 'render cancelled')));
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const receive = (data: Buffer, binary: boolean) => {
      if (settled) return;
      arm();
      try {
        const value = onMessage(data, binary);
        if (value !== undefined) finish(undefined, value);
      } catch (e) {
        finish(e instanceof BackendError ? e : new BackendError('protocol', `${where} sent a message this client cannot read during ${what}: ${(e as Error).message}`));
      }
    };
    const buffered = early.get(socket);
    if (buffered) {
      socket.removeListener('message', buffered.listener);
      early.delete(socket);
    }
    socket.on('message', receive);
    for (const [data, binary] of buffered?.messages ?? []) receive(data, binary);
    const closed = (code: number) => {
      const value = options.onClose?.(code);
      if (value !== undefined) finish(undefined, value);
      else if (code === 1009) finish(new BackendError('too-large', `${where} sent a message over ${Math.round((conn.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES) / 1024 / 1024)} MiB during ${what}: refused`));
      else finish(new BackendError('dropped', `${where} closed the connection during ${what}: did the server stop or crash?`));
    };
    socket.on('close', closed);
    // Closed while the render was being queued: its close event has passed already.
    if (socket.readyState === WebSocket.CLOSED) closed(1006);
    socket.on('error', (e) => {
      if (/max payload/i.test(e.message)) finish(new BackendError('too-large', `${where} sent a message over ${Math.round((conn.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES) / 1024 / 1024)} MiB during ${what}: refused`));
    });
    if (!settled) arm();
  });
}
