import * as path from 'path';
import { commands, ExtensionContext, Uri } from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { startTokenStatus } from './tokenStatus';

let client: LanguageClient | undefined;

/** Starts the sd-prompt language server for `.prompt` files. The client stays thin. */
export async function activate(context: ExtensionContext): Promise<void> {
  const serverModule = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'sd-prompt' }],
    synchronize: { configurationSection: 'sdPrompt' },
    outputChannelName: 'SD Prompt',
  };
  client = new LanguageClient('sdPrompt', 'SD Prompt', serverOptions, clientOptions);
  // The server's "Open LoRA file" action names files by URI string; VS Code's open needs a Uri.
  context.subscriptions.push(commands.registerCommand('sdPrompt.openFile', (uri: string) => commands.executeCommand('vscode.open', Uri.parse(uri))));
  context.subscriptions.push({ dispose: () => void client?.stop() });
  await client.start();
  context.subscriptions.push(startTokenStatus(client));
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
