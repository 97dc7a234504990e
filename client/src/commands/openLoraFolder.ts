import { commands, env, Uri, window, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { LORA_LIST_REQUEST, LoraListParams, LoraListResult } from '../../../server/src/protocol';
import { updateUserSetting } from '../settings';

/**
 * Open LoRA Folder: the library's folders (settings and webui layouts, as the server scans them);
 * one is chosen when there are several. A folder in the workspace is revealed in the Explorer, others
 * in the operating system's file manager (or a new window when VS Code runs remotely). Without any
 * folder it offers to add one to `sdPrompt.lora.directories`.
 */
export async function openLoraFolder(client: LanguageClient): Promise<void> {
  const params: LoraListParams = { textDocument: window.activeTextEditor ? { uri: window.activeTextEditor.document.uri.toString() } : undefined };
  const { folders } = await client.sendRequest<LoraListResult>(LORA_LIST_REQUEST, params);
  if (folders.length === 0) {
    const choice = await window.showInformationMessage('No LoRA folder is set (sdPrompt.lora.directories, sdPrompt.webuiPath).', 'Add Folder…');
    if (!choice) return;
    const picked = await window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Add LoRA Folder' });
    if (!picked?.[0]) return;
    const directories = workspace.getConfiguration('sdPrompt').inspect<string[]>('lora.directories')?.globalValue ?? [];
    await updateUserSetting('lora.directories', [...directories, picked[0].fsPath]);
    return;
  }
  const folder = folders.length === 1 ? folders[0] : await window.showQuickPick(folders, { title: 'Open LoRA Folder' });
  if (!folder) return;
  const uri = Uri.file(folder);
  if (workspace.getWorkspaceFolder(uri)) await commands.executeCommand('revealInExplorer', uri);
  else if (env.remoteName === undefined) await commands.executeCommand('revealFileInOS', uri);
  else await commands.executeCommand('vscode.openFolder', uri, { forceNewWindow: true });
}
