import { commands, env, Uri, window, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { LORA_LIST_REQUEST, LoraListParams, LoraListResult } from '../../../common/src/protocol';
import { dialogs } from '../dialogs';
import { updateUserSetting } from '../settings';

/** What Open LoRA Folder did: where it showed a folder, or the folder it added to the settings. */
export type OpenedLoraFolder = { folder: string; shownIn: 'explorer' | 'file manager' | 'new window' } | { added: string };

/**
 * Open LoRA Folder: the library's folders (settings and webui layouts, as the server scans them);
 * one is chosen when there are several. A folder in the workspace is revealed in the Explorer, others
 * in the operating system's file manager (or a new window when VS Code runs remotely). Without any
 * folder it offers to add one to `sdPrompt.lora.directories`.
 */
export async function openLoraFolder(client: LanguageClient): Promise<OpenedLoraFolder | undefined> {
  const params: LoraListParams = { textDocument: window.activeTextEditor ? { uri: window.activeTextEditor.document.uri.toString() } : undefined };
  const { folders } = await client.sendRequest<LoraListResult>(LORA_LIST_REQUEST, params);
  if (folders.length === 0) {
    if (!(await dialogs.offer('No LoRA folder is set (sdPrompt.lora.directories, sdPrompt.webuiPath).', 'Add Folder…'))) return undefined;
    const picked = await dialogs.pickFolder({ title: 'Add a LoRA folder', openLabel: 'Add LoRA Folder' });
    if (!picked) return undefined;
    const directories = workspace.getConfiguration('sdPrompt').inspect<string[]>('lora.directories')?.globalValue ?? [];
    await updateUserSetting('lora.directories', [...directories, picked.fsPath]);
    return { added: picked.fsPath };
  }
  const folder = folders.length === 1 ? folders[0] : await window.showQuickPick(folders, { title: 'Open LoRA Folder' });
  if (!folder) return undefined;
  const uri = Uri.file(folder);
  if (workspace.getWorkspaceFolder(uri)) {
    await commands.executeCommand('revealInExplorer', uri);
    return { folder, shownIn: 'explorer' };
  }
  if (env.remoteName === undefined) {
    await commands.executeCommand('revealFileInOS', uri);
    return { folder, shownIn: 'file manager' };
  }
  await commands.executeCommand('vscode.openFolder', uri, { forceNewWindow: true });
  return { folder, shownIn: 'new window' };
}
