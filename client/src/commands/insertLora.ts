import { commands, QuickPick, QuickPickItem, TextEditor, ThemeIcon, Uri, window } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { LORA_LIST_REQUEST, LoraListItem, LoraListParams, LoraListResult } from '../../../common/src/protocol';
import { dialogs } from '../dialogs';
import { announcePicker } from '../pickers';

/** Arguments a keybinding (or a test) may pass: a LoRA name skips the picker, `filter` pre-fills it. */
export interface InsertLoraArgs {
  name?: string;
  filter?: string;
  /** Also insert the LoRA's trigger words (skips the second step). */
  triggerWords?: boolean;
}

interface LoraPick extends QuickPickItem {
  lora: LoraListItem;
}

/**
 * Insert LoRA…: a picker over the library (base model, trigger words, preview image), then
 * `<lora:NAME:WEIGHT>` at each cursor with the card's preferred weight or `sdPrompt.lora.defaultWeight`,
 * followed by the trigger words when chosen, as A1111's extra-networks cards insert them
 * (`<lora:name:0.8> word1, word2`). Returns the inserted text.
 */
export async function insertLora(client: LanguageClient, args: InsertLoraArgs = {}): Promise<string | undefined> {
  const editor = window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'sd-prompt') {
    void window.showInformationMessage('Insert LoRA works in a .prompt file: open one first.');
    return undefined;
  }
  const picker = window.createQuickPick<LoraPick>();
  picker.title = 'Insert LoRA';
  picker.placeholder = 'LoRA name, alias, base model or trigger word';
  picker.matchOnDescription = true;
  picker.matchOnDetail = true;
  picker.busy = true;
  picker.value = args.filter ?? '';
  if (!args.name) picker.show();

  try {
    const params: LoraListParams = { textDocument: { uri: editor.document.uri.toString() } };
    const list = await client.sendRequest<LoraListResult>(LORA_LIST_REQUEST, params);
    if (list.loras.length === 0) {
      picker.hide();
      const where = list.folders.length ? `No LoRA files in ${list.folders.join(', ')}.` : 'No LoRA folder is set.';
      if (await dialogs.offer(`${where} Set sdPrompt.lora.directories or sdPrompt.webuiPath.`, 'Open Settings')) {
        void commands.executeCommand('workbench.action.openSettings', 'sdPrompt.lora.directories');
      }
      return undefined;
    }
    const loras = [...list.loras].sort((a, b) => a.name.localeCompare(b.name) || a.subfolder.localeCompare(b.subfolder));
    let lora: LoraListItem | undefined;
    if (args.name) {
      lora = loras.find((l) => l.name === args.name) ?? loras.find((l) => l.alias === args.name);
      if (!lora) {
        void window.showWarningMessage(`No LoRA named '${args.name}' in the library.`);
        return undefined;
      }
    } else {
      picker.items = loras.map(loraPick);
      picker.busy = false;
      announcePicker({ step: 'lora', labels: picker.items.map((i) => i.label) });
      lora = await accepted(picker);
    }
    if (!lora) return undefined;
    const withWords = lora.triggerWords.length > 0 && (args.triggerWords ?? (await askTriggerWords(lora)));
    if (withWords === undefined) return undefined;
    const text = `<lora:${lora.name}:${lora.weight}>${withWords ? ` ${lora.triggerWords.join(', ')}` : ''}`;
    await insertAtCursors(editor, text);
    return text;
  } finally {
    picker.dispose();
  }
}

function loraPick(lora: LoraListItem): LoraPick {
  const facts = [
    lora.subfolder ? `${lora.subfolder}/` : '',
    lora.alias ? `alias ${lora.alias}` : '',
    lora.baseModel === 'unknown' ? 'base model unknown' : lora.baseModel,
    lora.kind === 'unknown' ? '' : lora.kind,
    `weight ${lora.weight}${lora.weightSource === 'preferred' ? ' (preferred)' : ''}`,
  ];
  const detail = lora.problem
    ? `$(warning) ${lora.problem}`
    : lora.triggerWords.length
      ? `Trigger words: ${lora.triggerWords.join(', ')}`
      : 'No trigger words';
  return {
    label: lora.name,
    description: facts.filter((f) => f !== '').join(' · '),
    detail,
    iconPath: lora.previewPath ? Uri.file(lora.previewPath) : new ThemeIcon('symbol-module'),
    lora,
  };
}

/** Resolves with the accepted item's LoRA, or undefined when the picker is dismissed. */
function accepted(picker: QuickPick<LoraPick>): Promise<LoraListItem | undefined> {
  return new Promise((resolve) => {
    picker.onDidAccept(() => {
      const lora = picker.selectedItems[0]?.lora ?? picker.activeItems[0]?.lora;
      if (lora) resolve(lora);
    });
    picker.onDidHide(() => resolve(undefined));
  });
}

/** The second step: the tag with its trigger words (first, as most LoRAs need them) or the tag alone. */
async function askTriggerWords(lora: LoraListItem): Promise<boolean | undefined> {
  const tag = `<lora:${lora.name}:${lora.weight}>`;
  const picker = window.createQuickPick<QuickPickItem & { withWords: boolean }>();
  picker.title = `Insert LoRA: ${lora.name}`;
  picker.placeholder = 'Add the trigger words too?';
  picker.items = [
    { label: 'With trigger words', description: `${tag} ${lora.triggerWords.join(', ')}`, withWords: true },
    { label: 'Tag only', description: tag, withWords: false },
  ];
  try {
    const chosen = new Promise<boolean | undefined>((resolve) => {
      picker.onDidAccept(() => resolve((picker.selectedItems[0] ?? picker.activeItems[0])?.withWords));
      picker.onDidHide(() => resolve(undefined));
    });
    picker.show();
    announcePicker({ step: 'triggerWords', labels: picker.items.map((i) => i.label) });
    return await chosen;
  } finally {
    picker.dispose();
  }
}

async function insertAtCursors(editor: TextEditor, text: string): Promise<void> {
  await editor.edit((edit) => {
    for (const selection of editor.selections) edit.replace(selection, text);
  });
}
