// Render Preview on the user's webui (sdPrompt.render.backend) in a real VS Code, against the A1111 test server
// that speaks the --api protocol (test/unit/backends/servers): the render, its panel and record naming the
// backend, the credentials from SecretStorage (set, wrong, cleared), Cancel interrupting the server, the
// server's LoRA list as a diagnostic, dynamic prompts resolved before the render, and Select Render Device
// listing the backends.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RenderOutcome } from '../../../client/src/commands/renderPreview';
import type { CredentialsOutcome } from '../../../client/src/backends/credentials';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { A1111Server, startA1111Server } from '../../unit/backends/servers/a1111Server';
import { activateExtension, nextEvent, withUserSettings } from './api';

const PROMPT = 'a castle on a hill, (golden hour:1.2) <lora:add_detail:0.6>\nNegative prompt: blurry\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: dreamshaper_8\n';

function codeOf(d: vscode.Diagnostic): string | number | undefined {
    return typeof d.code === 'object' && d.code !== null ? d.code.value : d.code;
}

/** The first diagnostic of `uri` that `match` accepts, now or at a later change; rejects after `timeoutMs` saying what there is. */
function waitForDiagnostic(uri: vscode.Uri, match: (d: vscode.Diagnostic) => boolean, timeoutMs: number): Promise<vscode.Diagnostic> {
    return new Promise((resolve, reject) => {
        const find = () => vscode.languages.getDiagnostics(uri).find(match);
        const sub = vscode.languages.onDidChangeDiagnostics(() => {
            const found = find();
            if (found) {
                finish();
                resolve(found);
            }
        });
        const timer = setTimeout(() => {
            finish();
            reject(new Error(`no such diagnostic within ${timeoutMs / 1000} s; the document has: ${vscode.languages.getDiagnostics(uri).map(d => `${codeOf(d)}: ${d.message}`).join('; ') || '(none)'}`));
        }, timeoutMs);
        const finish = () => {
            clearTimeout(timer);
            sub.dispose();
        };
        const already = find();
        if (already) {
            finish();
            resolve(already);
        }
    });
}

describe('sd-prompt render on a webui backend', function () {
    this.timeout(60_000);
    let tmp: string;
    let promptFile: string;
    let server: A1111Server;
    let restoreSettings: () => Promise<void>;

    /** Runs Set Render Server Credentials with the answers a person would type. */
    async function setCredentials(answers: { choose?: string; user?: string; password?: string }): Promise<CredentialsOutcome> {
        const api = await activateExtension();
        const asked: string[] = [];
        const answering = api.answerDialogs({
            choose: async (placeholder, choices) => {
                asked.push(`choose: ${placeholder} [${choices.join(' | ')}]`);
                return answers.choose;
            },
            input: async options => {
                asked.push(`input: ${options.title}${options.password ? ' (password)' : ''}`);
                return options.password ? answers.password : answers.user;
            },
        });
        try {
            return await vscode.commands.executeCommand<CredentialsOutcome>('sdPrompt.setRenderServerCredentials');
        } finally {
            answering.dispose();
        }
    }

    before(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-backend-'));
        promptFile = path.join(tmp, 'castle.prompt');
        fs.writeFileSync(promptFile, PROMPT);
        // Sampling advances one step per progress poll, each with a preview image, as a real render's.
        server = await startA1111Server({ auth: { user: 'sd', password: 'right' }, advance: 'poll' });
        restoreSettings = await withUserSettings({ 'render.backend': 'a1111', 'render.server': server.url });
    });

    after(async () => {
        await setCredentials({ choose: 'Clear the stored credentials' }).catch(() => undefined);
        await restoreSettings?.();
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        await server?.close();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('Set Render Server Credentials stores a user and password for the server in the settings', async () => {
        assert.deepStrictEqual(await setCredentials({ user: 'sd', password: 'right' }), { status: 'set', server: server.url });
        // Nothing of them is in the settings.
        const settings = JSON.stringify(vscode.workspace.getConfiguration('sdPrompt'));
        assert.ok(!settings.includes('right'), 'the password is not in the settings');
    });

    it('renders on the server: progress with its previews, the PNG with its infotext, the panel naming a1111 and the server', async () => {
        const api = await activateExtension();
        const uri = vscode.Uri.file(promptFile);
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
        const steps: string[] = [];
        const stepping = api.onDidRenderStep(e => steps.push(`${e.step}/${e.steps}`));
        const shown = nextEvent(api.onDidShowImage);
        let outcome: RenderOutcome;
        try {
            outcome = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
        } finally {
            stepping.dispose();
        }
        assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
        if (outcome.status !== 'done') return;
        const { record } = outcome;
        assert.deepStrictEqual(steps, ['1/3', '2/3', '3/3']);
        // The webui got the prompt as written, the file's checkpoint, and the stored credentials.
        const post = server.requests.find(r => r.path === '/sdapi/v1/txt2img');
        assert.strictEqual((post?.body as { prompt: string }).prompt, 'a castle on a hill, (golden hour:1.2) <lora:add_detail:0.6>');
        assert.strictEqual((post?.body as { override_settings: Record<string, unknown> }).override_settings.sd_model_checkpoint, 'dreamshaper_8.safetensors [879db523c3]');
        assert.strictEqual(post?.authorization, 'Basic ' + Buffer.from('sd:right').toString('base64'));
        const infotext = 'a castle on a hill, (golden hour:1.2) <lora:add_detail:0.6>\nNegative prompt: blurry\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512';
        assert.strictEqual(path.dirname(record.png), api.outputFolder.fsPath);
        const png = readPngInfo(fs.readFileSync(record.png));
        assert.deepStrictEqual([png.width, png.height, png.text.parameters], [8, 8, infotext]);
        assert.deepStrictEqual(
            [record.device, record.backend?.kind, record.backend?.server, record.backend?.model, record.seed, record.steps, record.sampler, record.infotext],
            ['a1111', 'a1111', server.url, 'v1-5-pruned-emaonly', 42, 3, 'Euler a', infotext],
        );
        assert.strictEqual((await shown).id, record.id);
        const details = api.previewDetails(uri)?.split('\n') ?? [];
        assert.strictEqual(details[0], `Backend: AUTOMATIC1111/Forge (a1111) at ${server.url}, checkpoint v1-5-pruned-emaonly`);
        assert.ok(details.includes('Seed: 42'), details.join('\n'));
    });

    it('Cancel tells the server to stop (interrupt): nothing is saved', async () => {
        const api = await activateExtension();
        const long = path.join(tmp, 'long.prompt');
        fs.writeFileSync(long, PROMPT.replace('Steps: 3', 'Steps: 50'));
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(long));
        const before = fs.readdirSync(api.outputFolder.fsPath).length;
        const started = nextEvent(api.onDidStartRender);
        const stepping = nextEvent(api.onDidRenderStep, e => e.step === 2);
        const rendering = vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
        const { cancel } = await started;
        await stepping;
        cancel();
        assert.deepStrictEqual(await rendering, { status: 'cancelled' });
        assert.strictEqual(server.interrupts, 1);
        assert.strictEqual(fs.readdirSync(api.outputFolder.fsPath).length, before);
    });

    it('wrong credentials: one message offering Set Credentials; cleared credentials: the same', async () => {
        const api = await activateExtension();
        assert.deepStrictEqual(await setCredentials({ choose: 'Change the user and password', user: 'sd', password: 'wrong' }), { status: 'set', server: server.url });
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(promptFile));
        const offered: string[] = [];
        const answering = api.answerDialogs({
            offer: async (message, action, severity) => {
                offered.push(`${severity}: ${message} [${action}]`);
                return false;
            },
        });
        try {
            const outcome = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.strictEqual(outcome.status, 'failed');
            const expected = `Render on AUTOMATIC1111/Forge failed: ${server.url} refused the credentials (HTTP 401)`;
            assert.ok(outcome.message?.startsWith(expected), outcome.message);
            assert.deepStrictEqual(offered, [`warning: ${outcome.message} [Set Credentials]`]);

            assert.deepStrictEqual(await setCredentials({ choose: 'Clear the stored credentials' }), { status: 'cleared', server: server.url });
            const again = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.strictEqual(again.status, 'failed');
            assert.ok(again.message?.startsWith(expected), again.message);
            assert.strictEqual(offered.length, 2);
        } finally {
            answering.dispose();
        }
        assert.deepStrictEqual(await setCredentials({ user: 'sd', password: 'right' }), { status: 'set', server: server.url });
    });

    it("a LoRA the server lacks is a diagnostic naming the server, from the server's list", async () => {
        const file = path.join(tmp, 'missing.prompt');
        fs.writeFileSync(file, 'a castle <lora:add_detail:0.5> <lora:add_detial:0.5>\nSteps: 3\n');
        const uri = vscode.Uri.file(file);
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
        const found = await waitForDiagnostic(uri, d => codeOf(d) === 'lora-missing-on-server', 20_000);
        assert.strictEqual(found.message, `The render server ${server.url} (A1111) has no LoRA 'add_detial': a render there stops before it starts. Did you mean 'add_detail'?`);
        assert.deepStrictEqual(vscode.languages.getDiagnostics(uri).filter(d => codeOf(d) === 'lora-missing-on-server').length, 1);
    });

    it('dynamic prompts: the server renders the variant for the seed, and the panel says which', async () => {
        const api = await activateExtension();
        const restore = await withUserSettings({ 'dynamicPrompts.enable': true });
        try {
            const file = path.join(tmp, 'ball.prompt');
            fs.writeFileSync(file, 'a {red|blue} ball\nSteps: 3, Seed: 42, Size: 512x512\n');
            const uri = vscode.Uri.file(file);
            await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
            const shown = nextEvent(api.onDidShowImage);
            const outcome = await vscode.commands.executeCommand<RenderOutcome>('sdPrompt.renderPreview');
            assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
            if (outcome.status !== 'done') return;
            const post = [...server.requests].reverse().find(r => r.path === '/sdapi/v1/txt2img');
            const sent = (post?.body as { prompt: string }).prompt;
            assert.match(sent, /^a (red|blue) ball$/);
            const color = /^a (red|blue) ball$/.exec(sent)![1];
            assert.match(outcome.record.variant ?? '', new RegExp(`42.*${color}`));
            await shown;
            assert.ok(api.previewDetails(uri)?.split('\n').includes(`Variant: ${outcome.record.variant}`), api.previewDetails(uri));
        } finally {
            await restore();
        }
    });

    it('Select Render Device lists the backends after the devices; one without a server asks for its URL', async () => {
        const api = await activateExtension();
        const restore = await withUserSettings({ 'render.backend': 'local', 'render.server': '', 'render.device': 'cpu' });
        const config = () => vscode.workspace.getConfiguration('sdPrompt');
        const asked: string[] = [];
        const answering = api.answerDialogs({
            input: async options => {
                asked.push(`${options.title}: ${options.prompt}`);
                return 'http://127.0.0.1:8188/';
            },
        });
        try {
            let shown = nextEvent(api.onDidShowPicker);
            let choosing = vscode.commands.executeCommand<string>('sdPrompt.selectRenderDevice', { filter: 'ComfyUI' });
            assert.deepStrictEqual((await shown).labels, ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu', 'AUTOMATIC1111/Forge…', 'ComfyUI…', 'SwarmUI…']);
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, 'comfyui');
            assert.deepStrictEqual(asked, ['ComfyUI server: The URL of your ComfyUI (sdPrompt.render.server)']);
            assert.deepStrictEqual([config().get('render.backend'), config().get('render.server')], ['comfyui', 'http://127.0.0.1:8188']);
            // Back to this computer: the device, and the backend local again.
            shown = nextEvent(api.onDidShowPicker);
            choosing = vscode.commands.executeCommand<string>('sdPrompt.selectRenderDevice', { filter: 'cpu' });
            assert.strictEqual((await shown).labels[7], 'ComfyUI at http://127.0.0.1:8188');
            await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
            assert.strictEqual(await choosing, 'cpu');
            assert.deepStrictEqual([config().get('render.backend'), config().get('render.device')], ['local', 'cpu']);
        } finally {
            answering.dispose();
            await restore();
        }
    });
});
