import * as path from 'path';
import { commands, QuickPickItem, QuickPickItemKind, Uri, window } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { CHECKPOINT_LIST_REQUEST, CheckpointListItem, CheckpointListResult } from '../../../common/src/protocol';
import { dialogs } from '../dialogs';
import { announcePicker } from '../pickers';
import { renderSettings, updateUserSetting } from '../settings';

const FAMILY: Record<string, string> = { sd1: 'SD1', sd2: 'SD2', sdxl: 'SDXL' };
const CHOOSE_FILE = 'Choose a checkpoint file…';
const CHOOSE_FOLDER = 'Choose a diffusers ONNX model folder…';

/** Arguments a keybinding (or a test) may pass: `filter` pre-fills the picker. */
export interface SelectModelArgs {
  filter?: string;
}

type ModelPick = QuickPickItem & { checkpoint?: CheckpointListItem; action?: 'file' | 'folder' };

function sizeText(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Select Model…: the checkpoints of the webui folder (A1111's names and order, with family, dtype, size and short
 * hash) for `sdPrompt.model`, saved in the user settings; or any checkpoint file, or a diffusers ONNX folder.
 * A file sd-prompt cannot render (a pickle, SD3, a LoRA put there) is listed with why, and not taken.
 * Returns the model set, if any.
 */
export async function selectModel(client: LanguageClient, args: SelectModelArgs = {}): Promise<string | undefined> {
  const filter = typeof args?.filter === 'string' ? args.filter : undefined;
  const current = renderSettings().model;
  const picker = window.createQuickPick<ModelPick>();
  picker.title = 'Select Model';
  picker.placeholder = current ? `The model Render Preview uses (now: ${path.basename(current)})` : 'The model Render Preview uses';
  picker.matchOnDescription = true;
  picker.matchOnDetail = true;
  picker.busy = true;
  picker.value = filter ?? '';
  try {
    const list = await client.sendRequest<CheckpointListResult>(CHECKPOINT_LIST_REQUEST, {});
    const items: ModelPick[] = list.checkpoints.map((c) => ({
      label: c.nameForExtra,
      description: [c.renderable ? (FAMILY[c.family] ?? c.family) : '$(warning) cannot render', c.dtype, sizeText(c.size), c.path === current ? '(current)' : '']
        .filter(Boolean)
        .join(' · '),
      detail: c.renderable ? `${c.shortHash ? `[${c.shortHash}] ` : ''}${c.name}` : c.problem,
      checkpoint: c,
    }));
    if (items.length) items.push({ label: '', kind: QuickPickItemKind.Separator });
    else if (!list.folders.length) items.push({ label: 'No webui folder: set sdPrompt.webuiPath to list its models/Stable-diffusion', kind: QuickPickItemKind.Separator });
    items.push({ label: CHOOSE_FILE, action: 'file' }, { label: CHOOSE_FOLDER, action: 'folder' });
    picker.items = items;
    const currentItem = items.find((i) => i.checkpoint?.path === current);
    if (currentItem && !filter) picker.activeItems = [currentItem];
    picker.busy = false;
    const chosen = await new Promise<ModelPick | undefined>((resolve) => {
      picker.onDidAccept(() => {
        const item = picker.selectedItems[0] ?? picker.activeItems[0];
        if (item) resolve(item);
      });
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      announcePicker({ step: 'model', labels: items.filter((i) => i.kind !== QuickPickItemKind.Separator).map((i) => i.label), active: picker.activeItems[0]?.label });
    });
    picker.hide();
    if (!chosen) return undefined;
    if (chosen.action === 'folder') return (await commands.executeCommand<string | undefined>('sdPrompt.selectModelFolder')) ?? undefined;
    if (chosen.action === 'file') {
      const picked = await dialogs.pickFile({
        title: 'Select a Stable Diffusion checkpoint (.safetensors)',
        openLabel: 'Use as Model',
        filters: { Checkpoints: ['safetensors'] },
        defaultUri: current ? Uri.file(path.dirname(current)) : undefined,
      });
      if (!picked) return undefined;
      await updateUserSetting('model', picked.fsPath);
      return picked.fsPath;
    }
    const checkpoint = chosen.checkpoint!;
    if (!checkpoint.renderable) {
      void window.showWarningMessage(`${checkpoint.name} cannot be rendered: ${checkpoint.problem ?? 'sd-prompt does not know this kind of model'}`);
      return undefined;
    }
    await updateUserSetting('model', checkpoint.path);
    return checkpoint.path;
  } finally {
    picker.dispose();
  }
}
