// The extension under test, activated, with the events its activate() returns for tests.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { SdPromptTestApi } from '../../../client/src/extension';

export const EXTENSION_ID = 'sd-prompt.sd-prompt';

export async function activateExtension(): Promise<SdPromptTestApi> {
    const ext = vscode.extensions.getExtension<SdPromptTestApi>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
    return ext.activate();
}

/** User-level settings for a test (the throw-away profile's), restored by the returned function. */
export async function withUserSettings(values: Record<string, unknown>): Promise<() => Promise<void>> {
    const config = vscode.workspace.getConfiguration('sdPrompt');
    const before = Object.keys(values).map(key => [key, config.inspect(key)?.globalValue] as const);
    for (const [key, value] of Object.entries(values)) {
        await config.update(key, value, vscode.ConfigurationTarget.Global);
    }
    return async () => {
        for (const [key, value] of before) {
            await vscode.workspace.getConfiguration('sdPrompt').update(key, value, vscode.ConfigurationTarget.Global);
        }
    };
}

/** Resolves with the first event that `match` accepts. */
export function nextEvent<T>(event: vscode.Event<T>, match: (e: T) => boolean = () => true): Promise<T> {
    return new Promise(resolve => {
        const sub = event(e => {
            if (match(e)) {
                sub.dispose();
                resolve(e);
            }
        });
    });
}

/**
 * Reverts and closes an untitled document and waits until the extension host has dropped it. VS Code reuses
 * untitled names ("Untitled-1"), and a new untitled document opened before the old one's removal reached the
 * extension host came back as the old document with its old text (seen on CI: a later suite's new document
 * read the X/Y/Z cell's prompt).
 */
export async function closeUntitled(doc: vscode.TextDocument): Promise<void> {
    if (doc.isClosed) return;
    const closed = nextEvent(vscode.workspace.onDidCloseTextDocument, d => d === doc);
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await closed;
}
