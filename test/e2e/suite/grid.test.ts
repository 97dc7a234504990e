// Render X/Y/Z Plot… in a real VS Code on the tiny generated SD1.5 pipeline: the axes asked through the dialogs
// (values checked as typed), the cells rendered into the panel and saved with the grid image, and a click on a
// cell opening its prompt.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { GridOutcome } from '../../../client/src/commands/renderGrid';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../../unit/fixtures';
import { activateExtension, closeUntitled, withUserSettings } from './api';
import { clickInWebview } from './screenshot';

const PROMPT = 'a red apple on a table\nNegative prompt: blurry\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 42, Size: 64x64\n';

describe('sd-prompt X/Y/Z plot', function () {
    this.timeout(120_000);
    let tmp: string;
    let promptFile: string;
    let restoreSettings: () => Promise<void>;

    before(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-grid-'));
        generateTinyPipeline(path.join(tmp, 'tiny'), { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
        promptFile = path.join(tmp, 'apple.prompt');
        fs.writeFileSync(promptFile, PROMPT);
        restoreSettings = await withUserSettings({ model: path.join(tmp, 'tiny'), 'render.device': 'cpu' });
    });

    after(async () => {
        await restoreSettings?.();
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('asks for the axes, renders the cells into the panel, saves them with the grid, and a click opens a cell\'s prompt', async () => {
        const api = await activateExtension();
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(promptFile));
        const asked: string[] = [];
        const problems: (string | undefined)[] = [];
        const answers = api.answerDialogs({
            choose: async (placeholder, choices) => {
                asked.push(placeholder);
                return placeholder.startsWith('X') ? 'Seed' : placeholder.startsWith('Y') ? 'Steps' : choices[0];
            },
            input: async (options) => {
                asked.push(`${options.title} [${options.value}]`);
                const check = async (v: string) => (await options.validateInput?.(v)) as string | undefined;
                problems.push(await check('1-x'), await check(options.title!.includes('Seed') ? '42, 43' : '1, 2'));
                return options.title!.includes('Seed') ? '42, 43' : '1, 2';
            },
        });
        let outcome: GridOutcome;
        try {
            outcome = (await vscode.commands.executeCommand<GridOutcome>('sdPrompt.renderGrid'))!;
        } finally {
            answers.dispose();
        }
        assert.deepStrictEqual(asked, ['X axis type', 'X axis: Seed [42-45]', 'Y axis type', 'Y axis: Steps [2-22 [3]]', 'Z axis type']);
        assert.deepStrictEqual(problems, ["column 1: '1-x' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])", undefined, "column 1: '1-x' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])", undefined]);
        assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
        if (outcome.status !== 'done') return;
        assert.deepStrictEqual([outcome.rendered, outcome.failed, outcome.missing], [4, 0, 0]);
        assert.strictEqual(path.dirname(path.dirname(outcome.folder)), api.outputFolder.fsPath);
        assert.deepStrictEqual(fs.readdirSync(outcome.folder).sort(), ['grid.png', 'x1-y1.png', 'x1-y2.png', 'x2-y1.png', 'x2-y2.png']);
        assert.match(readPngInfo(fs.readFileSync(path.join(outcome.folder, 'x2-y2.png'))).text.parameters, /Steps: 2, .*Seed: 43,/);
        const tabs = vscode.window.tabGroups.all.flatMap(g => g.tabs).filter(t => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('sdPrompt.grid'));
        assert.deepStrictEqual(tabs.map(t => t.label), ['X/Y/Z Plot apple.prompt']);

        const opened = new Promise<vscode.TextDocument>(resolve => {
            const sub = vscode.workspace.onDidOpenTextDocument(d => {
                if (d.uri.scheme === 'untitled' && d.languageId === 'sd-prompt') {
                    sub.dispose();
                    resolve(d);
                }
            });
        });
        await clickInWebview('Seed: 43, Steps: 1');
        const cell = await opened;
        try {
            assert.match(cell.getText(), /^a red apple on a table\nNegative prompt: blurry\nSteps: 1, .*Seed: 43,/);
        } finally {
            await closeUntitled(cell);
        }
    });
});
