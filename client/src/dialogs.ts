import { Disposable, InputBoxOptions, OpenDialogOptions, SaveDialogOptions, Uri, window } from 'vscode';

/**
 * The dialogs the commands ask through. Normally VS Code's own; in the extension-host tests, the answers a
 * test gives (`answerDialogs`): code-server's test mode refuses modal dialogs, and no file dialog can be
 * driven from the extension host.
 */
export interface Dialogs {
  /** One folder, or undefined when the person cancelled. */
  pickFolder(options: Omit<OpenDialogOptions, 'canSelectFiles' | 'canSelectFolders' | 'canSelectMany'>): Thenable<Uri | undefined>;
  /** One file, or undefined when the person cancelled. */
  pickFile(options: Omit<OpenDialogOptions, 'canSelectFiles' | 'canSelectFolders' | 'canSelectMany'>): Thenable<Uri | undefined>;
  /** Where to save, or undefined when cancelled. */
  saveFile(options: SaveDialogOptions): Thenable<Uri | undefined>;
  /** A modal warning with one action: true when the person chose it. */
  confirm(question: string, detail: string | undefined, action: string): Thenable<boolean>;
  /** A notification with one action: true when the person chose it. */
  offer(message: string, action: string, severity?: 'information' | 'warning'): Thenable<boolean>;
  /** A line of text (a URL, a user name, a password), or undefined when cancelled. */
  input(options: InputBoxOptions): Thenable<string | undefined>;
  /** One of `choices`, or undefined when cancelled. */
  choose(placeholder: string, choices: string[]): Thenable<string | undefined>;
}

const vscodeDialogs: Dialogs = {
  pickFolder: async (options) => (await window.showOpenDialog({ ...options, canSelectFiles: false, canSelectFolders: true, canSelectMany: false }))?.[0],
  pickFile: async (options) => (await window.showOpenDialog({ ...options, canSelectFiles: true, canSelectFolders: false, canSelectMany: false }))?.[0],
  saveFile: (options) => window.showSaveDialog(options),
  confirm: async (question, detail, action) => (await window.showWarningMessage(question, { modal: true, detail }, action)) === action,
  offer: async (message, action, severity = 'information') =>
    (await (severity === 'warning' ? window.showWarningMessage(message, action) : window.showInformationMessage(message, action))) === action,
  input: (options) => window.showInputBox(options),
  choose: (placeholder, choices) => window.showQuickPick(choices, { placeHolder: placeholder }),
};

let answering: Dialogs = vscodeDialogs;

/** The dialogs to ask through (VS Code's, unless a test answers them). */
export const dialogs: Dialogs = {
  pickFolder: (options) => answering.pickFolder(options),
  pickFile: (options) => answering.pickFile(options),
  saveFile: (options) => answering.saveFile(options),
  confirm: (question, detail, action) => answering.confirm(question, detail, action),
  offer: (message, action, severity) => answering.offer(message, action, severity),
  input: (options) => answering.input(options),
  choose: (placeholder, choices) => answering.choose(placeholder, choices),
};

/**
 * Answers the dialogs with `answers` until disposed. A dialog the test did not answer fails with its
 * title or question, instead of waiting for a person who is not there.
 */
export function answerDialogs(answers: Partial<Dialogs>): Disposable {
  const previous = answering;
  const unanswered = (what: string) => Promise.reject(new Error(`a test answers the dialogs, but not this one: ${what}`));
  answering = {
    pickFolder: answers.pickFolder ?? ((o) => unanswered(`folder dialog "${o.title ?? o.openLabel ?? ''}"`)),
    pickFile: answers.pickFile ?? ((o) => unanswered(`file dialog "${o.title ?? o.openLabel ?? ''}"`)),
    saveFile: answers.saveFile ?? ((o) => unanswered(`save dialog "${o.title ?? o.saveLabel ?? ''}"`)),
    confirm: answers.confirm ?? ((question) => unanswered(question)),
    offer: answers.offer ?? ((message) => unanswered(message)),
    input: answers.input ?? ((o) => unanswered(`input box "${o.title ?? o.prompt ?? ''}"`)),
    choose: answers.choose ?? ((placeholder) => unanswered(`choice "${placeholder}"`)),
  };
  return new Disposable(() => (answering = previous));
}
