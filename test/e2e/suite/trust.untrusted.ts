// Run by run.mjs's untrusted pass (SD_PROMPT_E2E_PASS=untrusted): workspace trust is on and
// test/e2e/workspace-untrusted is open untrusted. Its .vscode/settings.json names a model and LoRA folders;
// the user settings name another model (/nonexistent/user-model). The extension supports untrusted
// workspaces in a limited way: those workspace paths are ignored, and Render Preview asks before it renders.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { RenderOutcome } from '../../../client/src/commands/renderPreview';
import { activateExtension } from './api';
import * as fs from 'fs';

const USER_MODEL = '/nonexistent/user-model';

function promptUri(): vscode.Uri {
    return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'untrusted.prompt');
}

/**
 * The extension host may start before the workbench has handed it the user settings (seen on a cold
 * code-server): wait for them to arrive, by event.
 */
async function userSettingsLoaded(): Promise<void> {
    const model = () => vscode.workspace.getConfiguration('sdPrompt', promptUri()).get<string>('model');
    if (model() === USER_MODEL) {
        return;
    }
    await new Promise<void>(resolve => {
        const sub = vscode.workspace.onDidChangeConfiguration(() => {
            if (model() === USER_MODEL) {
                sub.dispose();
                resolve();
            }
        });
    });
}

describe('sd-prompt in an untrusted workspace', function () {
    this.timeout(60_000);

    it('ignores the model and LoRA folders the workspace settings name', async () => {
        assert.strictEqual(vscode.workspace.isTrusted, false);
        const settingsFile = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, '.vscode', 'settings.json').fsPath;
        const workspaceSettings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
        assert.strictEqual(workspaceSettings['sdPrompt.model'], '/nonexistent/workspace-model');
        // VS Code drops the restricted settings' workspace values (package.json restrictedConfigurations).
        await userSettingsLoaded();
        const config = vscode.workspace.getConfiguration('sdPrompt', promptUri());
        assert.strictEqual(config.inspect<string>('model')?.workspaceValue, undefined);
        assert.strictEqual(config.get<string>('model'), USER_MODEL);
        assert.deepStrictEqual(config.get<string[]>('lora.directories'), []);
    });

    it('Render Preview asks once: declined, nothing renders; agreed, it renders with the user model, not the workspace one', async () => {
        const api = await activateExtension();
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(promptUri()));
        const errors: string[] = [];
        const sub = api.onDidReportError(m => errors.push(m));
        // The workbench under test refuses modal dialogs, so the test answers the question itself.
        const asked: string[] = [];
        let answer = false;
        const answering = api.answerDialogs({
            confirm: async (question, _detail, action) => {
                asked.push(`${question} [${action}]`);
                return answer;
            },
        });
        try {
            const declined = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.deepStrictEqual(declined, { status: 'declined', message: 'untrusted workspace' });
            assert.deepStrictEqual(asked, ['Render this prompt in a workspace you have not trusted? [Render]']);
            assert.strictEqual(errors.length, 0);

            answer = true;
            const outcome = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.strictEqual(asked.length, 2);
            // The user's model folder does not exist: one clear error that names it (not the workspace's).
            assert.strictEqual(outcome.status, 'failed');
            assert.strictEqual(errors.length, 1);
            assert.ok(errors[0].includes(USER_MODEL), errors[0]);
            assert.ok(!errors[0].includes('workspace-model'), errors[0]);

            // Asked once per session: the next render goes straight to the same error, no dialog.
            const again = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.strictEqual(again.status, 'failed');
            assert.strictEqual(asked.length, 2);
            assert.strictEqual(errors.length, 2);
        } finally {
            answering.dispose();
            sub.dispose();
        }
    });
});
