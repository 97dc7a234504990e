// The commands of issue 7 in a real VS Code: contributed for .prompt files, Insert LoRA through its pickers,
// Copy as Generation Data, New Prompt File.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { kohyaSd15 } from '../../unit/library/build';
import { writeCheckpoint, TINY_SD1_ARCHITECTURE } from '../../../server/src/render/testModel/generateCheckpoint';
import { activateExtension, closeUntitled, nextEvent, withUserSettings } from './api';

const COMMANDS = [
    'sdPrompt.renderPreview',
    'sdPrompt.insertLora',
    'sdPrompt.copyGenerationData',
    'sdPrompt.selectModel',
    'sdPrompt.selectModelFolder',
    'sdPrompt.selectRenderDevice',
    'sdPrompt.openLoraFolder',
    'sdPrompt.newPromptFile',
];

/** Where the tests' scratch .prompt files go (removed after the suite). */
const scratchFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-scratch-'));
let scratchFiles = 0;

/**
 * A new .prompt file with `content`, in an editor with the cursor at its end. A file of its own for each test:
 * untitled documents reuse their names, and a closed "Untitled-1" whose model VS Code had not disposed yet came
 * back (reverted to its first text) as the next test's new untitled document, which then edited the wrong text.
 */
async function openScratchFile(content: string): Promise<vscode.TextEditor> {
    const file = path.join(scratchFolder, `scratch-${++scratchFiles}.prompt`);
    fs.writeFileSync(file, content);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const editor = await vscode.window.showTextDocument(doc);
    const end = doc.positionAt(content.length);
    editor.selection = new vscode.Selection(end, end);
    return editor;
}

async function closeWithoutSaving(): Promise<void> {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
}

describe('sd-prompt commands', () => {
    let loraFolder: string;
    let restoreSettings: () => Promise<void>;

    before(async () => {
        loraFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-lora-'));
        fs.mkdirSync(path.join(loraFolder, 'styles'));
        fs.writeFileSync(path.join(loraFolder, 'add_detail.safetensors'), kohyaSd15());
        fs.writeFileSync(path.join(loraFolder, 'add_detail.json'), JSON.stringify({ 'activation text': 'detailed, intricate', 'preferred weight': 0.6 }));
        fs.writeFileSync(path.join(loraFolder, 'styles', 'ink.safetensors'), kohyaSd15());
        restoreSettings = await withUserSettings({ 'lora.directories': [loraFolder], 'lora.defaultWeight': 0.75 });
    });

    after(async () => {
        await restoreSettings?.();
        fs.rmSync(loraFolder, { recursive: true, force: true });
        fs.rmSync(scratchFolder, { recursive: true, force: true });
    });

    it('activates on a .prompt file and contributes its commands in category "SD Prompt"', async () => {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'example.prompt'));
        await vscode.window.showTextDocument(doc);
        await activateExtension();
        const registered = new Set(await vscode.commands.getCommands(true));
        assert.deepStrictEqual(COMMANDS.filter(c => !registered.has(c)), []);
        const contributed = vscode.extensions.getExtension('sd-prompt.sd-prompt')!.packageJSON.contributes.commands as { command: string; category: string; title: string }[];
        assert.deepStrictEqual(
            COMMANDS.map(c => contributed.find(x => x.command === c)).map(x => `${x?.category}: ${x?.title}`),
            [
                'SD Prompt: Render Preview',
                'SD Prompt: Insert LoRA…',
                'SD Prompt: Copy as Generation Data',
                'SD Prompt: Select Model…',
                'SD Prompt: Select Model Folder…',
                'SD Prompt: Select Render Device…',
                'SD Prompt: Open LoRA Folder',
                'SD Prompt: New Prompt File',
            ],
        );
    });

    it('Insert LoRA: picks from the library, inserts the preferred weight and the trigger words at the cursor', async () => {
        const api = await activateExtension();
        const editor = await openScratchFile('masterpiece, ');
        const seen: string[][] = [];
        const sub = api.onDidShowPicker(async shown => {
            seen.push([shown.step, ...shown.labels]);
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        });
        try {
            const inserted = await vscode.commands.executeCommand<string>('sdPrompt.insertLora');
            assert.deepStrictEqual(seen, [
                ['lora', 'add_detail', 'ink'],
                ['triggerWords', 'With trigger words', 'Tag only'],
            ]);
            assert.strictEqual(inserted, '<lora:add_detail:0.6> detailed, intricate');
            assert.strictEqual(editor.document.getText(), 'masterpiece, <lora:add_detail:0.6> detailed, intricate');
        } finally {
            sub.dispose();
            await closeWithoutSaving();
        }
    });

    it('Insert LoRA: a filter narrows the picker; a LoRA without a preferred weight gets sdPrompt.lora.defaultWeight', async () => {
        const api = await activateExtension();
        const editor = await openScratchFile('1girl, ');
        const shown = nextEvent(api.onDidShowPicker);
        const inserting = vscode.commands.executeCommand<string>('sdPrompt.insertLora', { filter: 'ink' });
        assert.strictEqual((await shown).step, 'lora');
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        try {
            assert.strictEqual(await inserting, '<lora:ink:0.75>');
            assert.strictEqual(editor.document.getText(), '1girl, <lora:ink:0.75>');
        } finally {
            await closeWithoutSaving();
        }
    });

    it('Copy as Generation Data: the infotext A1111 writes for the file, comments stripped', async () => {
        await activateExtension();
        await openScratchFile('masterpiece, 1girl # pose\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512\n');
        try {
            const copied = await vscode.commands.executeCommand<string>('sdPrompt.copyGenerationData');
            const expected = 'masterpiece, 1girl \n\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512';
            assert.strictEqual(copied, expected);
            assert.strictEqual(await vscode.env.clipboard.readText(), expected);
        } finally {
            await closeWithoutSaving();
        }
    });

    it('Select Render Device: the picker lists the devices and starts on the current one; the choice goes to the user settings', async () => {
        const api = await activateExtension();
        const restore = await withUserSettings({ 'render.device': 'webgpu' });
        const device = () => vscode.workspace.getConfiguration('sdPrompt').inspect<string>('render.device')?.globalValue;
        try {
            // Accepted as it opens: the current device.
            let shown = nextEvent(api.onDidShowPicker);
            let choosing = vscode.commands.executeCommand<string>('sdPrompt.selectRenderDevice');
            assert.deepStrictEqual(await shown, { step: 'device', labels: ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu', 'AUTOMATIC1111/Forge…', 'ComfyUI…', 'SwarmUI…'], active: 'webgpu' });
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, 'webgpu');
            // Narrowed to the CPU and accepted.
            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectRenderDevice', { filter: 'cpu' });
            await shown;
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, 'cpu');
            assert.strictEqual(device(), 'cpu');
            // Closed without a choice: nothing changes.
            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectRenderDevice');
            await shown;
            await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
            assert.strictEqual(await choosing, undefined);
            assert.strictEqual(device(), 'cpu');
        } finally {
            await restore();
        }
    });

    it("Select Model: the webui's checkpoints with what they are; one that cannot render is refused; any file; cancel changes nothing", async () => {
        const api = await activateExtension();
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-webui-'));
        const models = path.join(tmp, 'models', 'Stable-diffusion');
        fs.mkdirSync(models, { recursive: true });
        const tiny = path.join(models, 'tiny.safetensors');
        writeCheckpoint(tiny, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3 });
        fs.writeFileSync(path.join(models, 'misplaced_lora.safetensors'), kohyaSd15());
        const elsewhere = path.join(tmp, 'elsewhere.safetensors');
        fs.copyFileSync(tiny, elsewhere);
        const restore = await withUserSettings({ model: '', webuiPath: tmp });
        const model = () => vscode.workspace.getConfiguration('sdPrompt').inspect<string>('model')?.globalValue;
        const asked: string[] = [];
        const answering = api.answerDialogs({
            pickFile: async options => {
                asked.push(`${options.title} [${options.openLabel}]`);
                return vscode.Uri.file(elsewhere);
            },
        });
        try {
            let shown = nextEvent(api.onDidShowPicker);
            let choosing = vscode.commands.executeCommand<string>('sdPrompt.selectModel', { filter: 'tiny' });
            assert.deepStrictEqual((await shown).labels, ['misplaced_lora', 'tiny', 'Choose a checkpoint file…', 'Choose a diffusers ONNX model folder…']);
            assert.deepStrictEqual((await shown).step, 'model');
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, tiny);
            assert.strictEqual(model(), tiny);

            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectModel', { filter: 'misplaced' });
            await shown;
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, undefined);
            assert.strictEqual(model(), tiny);

            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectModel', { filter: 'Choose a checkpoint' });
            await shown;
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, elsewhere);
            assert.strictEqual(model(), elsewhere);
            assert.deepStrictEqual(asked, ['Select a Stable Diffusion checkpoint (.safetensors) [Use as Model]']);

            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectModel');
            await shown;
            await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
            assert.strictEqual(await choosing, undefined);
            assert.strictEqual(model(), elsewhere);
        } finally {
            answering.dispose();
            await restore();
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it('Select Model Folder: a model folder is taken; another folder only when the person insists; cancel changes nothing', async () => {
        const api = await activateExtension();
        const restore = await withUserSettings({ model: '' });
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-models-'));
        const modelFolder = path.join(tmp, 'sd15-onnx');
        fs.mkdirSync(modelFolder);
        fs.writeFileSync(path.join(modelFolder, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline"}');
        const notAModel = path.join(tmp, 'pictures');
        fs.mkdirSync(notAModel);
        const model = () => vscode.workspace.getConfiguration('sdPrompt').inspect<string>('model')?.globalValue;
        let pick: string | undefined;
        let insist = false;
        const asked: string[] = [];
        const answering = api.answerDialogs({
            pickFolder: async options => {
                asked.push(`${options.title} [${options.openLabel}]`);
                return pick === undefined ? undefined : vscode.Uri.file(pick);
            },
            confirm: async (question, _detail, action) => {
                asked.push(`${question} [${action}]`);
                return insist;
            },
        });
        try {
            pick = modelFolder;
            assert.strictEqual(await vscode.commands.executeCommand('sdPrompt.selectModelFolder'), modelFolder);
            assert.strictEqual(model(), modelFolder);
            assert.deepStrictEqual(asked.splice(0), ['Select a diffusers ONNX model folder [Use as Model Folder]']);

            pick = notAModel;
            const question = `${notAModel} has no model_index.json or unet/model.onnx: it does not look like a diffusers ONNX model folder. [Use Anyway]`;
            assert.strictEqual(await vscode.commands.executeCommand('sdPrompt.selectModelFolder'), undefined);
            assert.strictEqual(model(), modelFolder);
            assert.deepStrictEqual(asked.splice(0), ['Select a diffusers ONNX model folder [Use as Model Folder]', question]);
            insist = true;
            assert.strictEqual(await vscode.commands.executeCommand('sdPrompt.selectModelFolder'), notAModel);
            assert.strictEqual(model(), notAModel);

            pick = undefined;
            assert.strictEqual(await vscode.commands.executeCommand('sdPrompt.selectModelFolder'), undefined);
            assert.strictEqual(model(), notAModel);
        } finally {
            answering.dispose();
            await restore();
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it('Open LoRA Folder: a folder in the workspace is shown in the Explorer; without any folder it offers to add one', async () => {
        const api = await activateExtension();
        const workspaceRoot = vscode.workspace.workspaceFolders![0].uri.fsPath;
        const added = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-add-'));
        let restore = await withUserSettings({ 'lora.directories': [workspaceRoot] });
        const asked: string[] = [];
        let addOne = false;
        const answering = api.answerDialogs({
            offer: async (message, action) => {
                asked.push(`${message} [${action}]`);
                return addOne;
            },
            pickFolder: async options => {
                asked.push(`${options.title} [${options.openLabel}]`);
                return vscode.Uri.file(added);
            },
        });
        try {
            assert.deepStrictEqual(await vscode.commands.executeCommand('sdPrompt.openLoraFolder'), { folder: workspaceRoot, shownIn: 'explorer' });
            assert.deepStrictEqual(asked, []);
            await restore();

            restore = await withUserSettings({ 'lora.directories': [], webuiPath: '' });
            const offer = 'No LoRA folder is set (sdPrompt.lora.directories, sdPrompt.webuiPath). [Add Folder…]';
            assert.strictEqual(await vscode.commands.executeCommand('sdPrompt.openLoraFolder'), undefined);
            assert.deepStrictEqual(asked.splice(0), [offer]);
            addOne = true;
            assert.deepStrictEqual(await vscode.commands.executeCommand('sdPrompt.openLoraFolder'), { added });
            assert.deepStrictEqual(asked.splice(0), [offer, 'Add a LoRA folder [Add LoRA Folder]']);
            assert.deepStrictEqual(vscode.workspace.getConfiguration('sdPrompt').inspect<string[]>('lora.directories')?.globalValue, [added]);
        } finally {
            answering.dispose();
            await restore();
            fs.rmSync(added, { recursive: true, force: true });
        }
    });

    it('New Prompt File: an untitled sd-prompt document from the template, cursor after the prompt', async () => {
        await activateExtension();
        await vscode.commands.executeCommand('sdPrompt.newPromptFile');
        const editor = vscode.window.activeTextEditor;
        try {
            assert.ok(editor);
            assert.strictEqual(editor.document.languageId, 'sd-prompt');
            assert.strictEqual(editor.document.isUntitled, true);
            assert.strictEqual(
                editor.document.getText(),
                'masterpiece, best quality, \nNegative prompt: lowres, bad anatomy, bad hands\nSteps: 20, Sampler: Euler a, CFG scale: 7, Size: 512x512\n',
            );
            assert.deepStrictEqual([editor.selection.active.line, editor.selection.active.character], [0, 27]);
        } finally {
            if (editor?.document.isUntitled) await closeUntitled(editor.document);
        }
    });
});
