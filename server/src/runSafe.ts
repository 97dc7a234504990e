import { CancellationToken, LSPErrorCodes, ResponseError } from 'vscode-languageserver';

/**
 * Runs one request's work the way the css server's `runSafeAsync` does: a cancelled request answers
 * RequestCancelled, and a failure in a feature is logged, never fatal, and answers `empty`. The log
 * line names the request (`textDocument/hover failed: …`), so a failure can be traced to what asked.
 */
export async function runSafe<T>(
  request: string,
  token: CancellationToken,
  empty: T,
  work: () => Promise<T>,
  logError: (message: string) => void,
): Promise<T | ResponseError<any>> {
  if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
  try {
    const result = await work();
    if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    return result;
  } catch (e) {
    logError(`${request} failed: ${(e as Error)?.stack ?? e}`);
    return empty;
  }
}
