import { Disposable, StatusBarAlignment, TextEditor, window, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { TOKEN_COUNT_REQUEST, TokenCountParams, TokenCountResult } from '../../common/src/protocol';

/** Waits this long after the last keystroke or cursor move before asking the server. */
const DELAY_MS = 80;

/**
 * The status bar item with A1111's token counter (`85/150`) for the part of the prompt under
 * the cursor; `≈` when the count is approximate. Hidden outside `.prompt` files.
 */
export function startTokenStatus(client: LanguageClient): Disposable {
  const item = window.createStatusBarItem('sdPrompt.tokens', StatusBarAlignment.Right, 100);
  item.name = 'SD Prompt Tokens';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = 0;

  const update = async (editor: TextEditor | undefined) => {
    const ticket = ++asked;
    if (!editor || editor.document.languageId !== 'sd-prompt') {
      item.hide();
      return;
    }
    const params: TokenCountParams = {
      textDocument: { uri: editor.document.uri.toString() },
      position: { line: editor.selection.active.line, character: editor.selection.active.character },
    };
    const result = await client.sendRequest<TokenCountResult | null>(TOKEN_COUNT_REQUEST, params).then(undefined, () => null);
    if (ticket !== asked) return; // a newer request is on its way
    if (!result) {
      item.hide();
      return;
    }
    item.text = `$(symbol-number) ${result.text}`;
    // An approximate count needs tokenizer files: the click goes where they are set.
    item.command = result.approximate ? { title: 'Set the tokenizer folder', command: 'workbench.action.openSettings', arguments: ['sdPrompt.tokenizerPath'] } : undefined;
    item.tooltip = `${result.section === 'positive' ? 'Prompt' : 'Negative prompt'}: ${result.count} CLIP tokens, ${
      result.target / 75
    } chunk(s) of 75 as AUTOMATIC1111 counts them${result.approximate ? ' (approximate: no tokenizer files found)' : ''}.\nTokenizer: ${result.tokenizer}`;
    item.show();
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void update(window.activeTextEditor), DELAY_MS);
  };
  const subscriptions = [
    item,
    window.onDidChangeActiveTextEditor(schedule),
    window.onDidChangeTextEditorSelection(schedule),
    workspace.onDidChangeTextDocument((e) => {
      if (e.document === window.activeTextEditor?.document) schedule();
    }),
  ];
  schedule();
  return Disposable.from(...subscriptions, { dispose: () => clearTimeout(timer) });
}
