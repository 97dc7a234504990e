// Issue 17 item 2 in a real VS Code: Open Generation Data from Image… (with the Explorer's image, or a file
// dialog), and the text a drop or paste of image files inserts into a .prompt editor.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { imageTexts } from '../../../client/src/imageDropPaste';
import { a1111Exif, jpeg, jpegExif, pngWithText } from '../../unit/imageData/imageBuilders';
import { activateExtension, closeUntitled } from './api';

const INFOTEXT = 'a lighthouse at dusk, <lora:add_detail:0.6>\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 512x512';

describe('generation data from images', () => {
    let folder: string;
    let png: vscode.Uri;
    let jpg: vscode.Uri;
    let plain: vscode.Uri;
    const opened: vscode.TextDocument[] = [];

    before(async () => {
        folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-images-'));
        const write = (name: string, bytes: Buffer) => {
            fs.writeFileSync(path.join(folder, name), bytes);
            return vscode.Uri.file(path.join(folder, name));
        };
        png = write('render.png', pngWithText({ parameters: INFOTEXT }));
        jpg = write('photo.jpg', jpeg([jpegExif(a1111Exif('a fox in snow\nSteps: 5, Seed: 1'))]));
        plain = write('plain.png', pngWithText({ Software: 'GIMP' }));
        await activateExtension();
    });

    after(async () => {
        for (const doc of opened) await closeUntitled(doc);
        fs.rmSync(folder, { recursive: true, force: true });
    });

    it('is contributed as "SD Prompt: Open Generation Data from Image…" and on png/jpg/jpeg/webp in the Explorer menu', () => {
        const contributes = vscode.extensions.getExtension('sd-prompt.sd-prompt')!.packageJSON.contributes;
        const command = (contributes.commands as { command: string; category: string; title: string }[]).find(c => c.command === 'sdPrompt.openGenerationDataFromImage');
        assert.strictEqual(`${command?.category}: ${command?.title}`, 'SD Prompt: Open Generation Data from Image…');
        const menu = (contributes.menus['explorer/context'] as { command: string; when: string }[]).find(m => m.command === 'sdPrompt.openGenerationDataFromImage');
        const pattern = /^\/(.*)\/i$/.exec(menu!.when.replace(/^resourceExtname =~ /, ''))![1];
        assert.deepStrictEqual(['.png', '.jpg', '.JPEG', '.webp', '.gif', '.prompt'].map(e => new RegExp(pattern, 'i').test(e)), [true, true, true, true, false, false]);
    });

    it("opens the Explorer's image as an untitled .prompt with its generation data", async () => {
        const doc = await vscode.commands.executeCommand<vscode.TextDocument>('sdPrompt.openGenerationDataFromImage', png);
        assert.ok(doc, 'the command returns the opened document');
        opened.push(doc);
        assert.deepStrictEqual([doc.isUntitled, doc.languageId, doc.getText()], [true, 'sd-prompt', INFOTEXT + '\n']);
        assert.strictEqual(vscode.window.activeTextEditor?.document, doc);
        // Left open until the suite ends: a just-closed untitled model can come back as the next untitled document.
    });

    it('asks for the image with a file dialog from the palette, and opens nothing for an image without data', async () => {
        const api = await activateExtension();
        const asked: string[] = [];
        const answering = api.answerDialogs({ pickFile: async o => (asked.push(`${o.title}|${Object.keys(o.filters ?? {})}`), jpg) });
        try {
            const doc = await vscode.commands.executeCommand<vscode.TextDocument>('sdPrompt.openGenerationDataFromImage');
            assert.deepStrictEqual(asked, ['Open Generation Data from Image|Images']);
            if (doc) opened.push(doc);
            assert.strictEqual(doc?.getText(), 'a fox in snow\nSteps: 5, Seed: 1\n');
        } finally {
            answering.dispose();
        }
        const none = await vscode.commands.executeCommand<vscode.TextDocument | undefined>('sdPrompt.openGenerationDataFromImage', plain);
        assert.strictEqual(none, undefined);
    });

    it('a drop or paste of image files inserts their generation data; other files insert nothing of ours', async () => {
        const token = new vscode.CancellationTokenSource().token;
        const transfer = (uris: vscode.Uri[]) => {
            const t = new vscode.DataTransfer();
            t.set('text/uri-list', new vscode.DataTransferItem(uris.map(u => u.toString()).join('\r\n')));
            return t;
        };
        assert.strictEqual(await imageTexts(transfer([png]), token), INFOTEXT);
        assert.strictEqual(await imageTexts(transfer([png, jpg]), token), INFOTEXT + '\n\na fox in snow\nSteps: 5, Seed: 1');
        assert.strictEqual(await imageTexts(transfer([vscode.Uri.file(path.join(folder, 'notes.txt'))]), token), undefined);
        assert.strictEqual(await imageTexts(transfer([plain]), token), undefined);
    });
});
