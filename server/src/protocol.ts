/**
 * Messages between the extension and the language server beyond LSP. The client imports only
 * this file from the server side.
 */
export const TOKEN_COUNT_REQUEST = 'sdPrompt/tokenCount';

export interface TokenCountParams {
  textDocument: { uri: string };
  position: { line: number; character: number };
}

/** The webui counter for the part of the file at the position; null on the parameter line. */
export interface TokenCountResult {
  section: 'positive' | 'negative';
  count: number;
  target: number;
  approximate: boolean;
  /** `85/150`, or `≈85/150` for an approximate count. */
  text: string;
  /** Where the tokenizer came from (a folder, or why the count is approximate). */
  tokenizer: string;
}
