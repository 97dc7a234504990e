// Extension-host tests: the real extension (dist/client.js starting dist/server.js) inside VS Code, on
// test/e2e/workspace/example.prompt. Run with `npm run test:e2e` (see test/e2e/run.mjs).
import * as assert from 'assert';
import * as vscode from 'vscode';
import { requestScreenshot } from './screenshot';

const EXTENSION_ID = 'sd-prompt.sd-prompt';
const LANGUAGE_ID = 'sd-prompt';
const DIAGNOSTIC_TIMEOUT_MS = 20_000;

const EXAMPLE_LINE_0 = 'masterpiece, (best quality:1.2), <lora: add_detail :0.8>, 1girl BREAK night sky';

function exampleUri(): vscode.Uri {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'no workspace folder is open (expected test/e2e/workspace)');
    return vscode.Uri.joinPath(folder.uri, 'example.prompt');
}

let opened: Promise<vscode.TextDocument> | undefined;

/** Opens example.prompt in an editor (once); opening it is what activates the extension (onLanguage:sd-prompt). */
function openExample(): Promise<vscode.TextDocument> {
    opened ??= (async () => {
        const doc = await vscode.workspace.openTextDocument(exampleUri());
        await vscode.window.showTextDocument(doc, { preview: false });
        return doc;
    })();
    return opened;
}

/** Opens the example and waits for the extension's activate() to finish (the language client is started then). */
async function openAndActivate(): Promise<vscode.TextDocument> {
    const doc = await openExample();
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
    try {
        await ext.activate();
    } catch (err) {
        // One line instead of the extension host's module-loader stack.
        throw new Error(`extension ${EXTENSION_ID} failed to activate: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    return doc;
}

function codeOf(d: vscode.Diagnostic): string | number | undefined {
    return typeof d.code === 'object' && d.code !== null ? d.code.value : d.code;
}

function describeDiagnostics(ds: readonly vscode.Diagnostic[]): string {
    if (ds.length === 0) {
        return '(none)';
    }
    return ds
        .map(d => `[${d.source}/${codeOf(d)} sev=${d.severity} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}] ${d.message}`)
        .join('; ');
}

/**
 * Resolves with the first diagnostic of `uri` matching `match`, looking at the current ones and then at each
 * onDidChangeDiagnostics event; rejects after `timeoutMs` listing what the document has then.
 */
function waitForDiagnostic(uri: vscode.Uri, match: (d: vscode.Diagnostic) => boolean, what: string, timeoutMs: number): Promise<vscode.Diagnostic> {
    return new Promise((resolve, reject) => {
        const find = () => vscode.languages.getDiagnostics(uri).find(match);
        // Subscribe before looking, so an event between the look and the subscription is not lost.
        const sub = vscode.languages.onDidChangeDiagnostics(e => {
            if (!e.uris.some(u => u.toString() === uri.toString())) {
                return;
            }
            const found = find();
            if (found) {
                finish();
                resolve(found);
            }
        });
        const timer = setTimeout(() => {
            finish();
            reject(new Error(`no ${what} diagnostic within ${timeoutMs / 1000} s; the document has: ${describeDiagnostics(vscode.languages.getDiagnostics(uri))}`));
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

function hoverText(h: vscode.Hover): string {
    return h.contents.map(c => (typeof c === 'string' ? c : c.value)).join('\n');
}

/** Applies text edits to the document's text in memory (the document itself is left unchanged). */
function applyEdits(doc: vscode.TextDocument, edits: readonly vscode.TextEdit[]): string {
    const text = doc.getText();
    const sorted = edits
        .map(e => ({ start: doc.offsetAt(e.range.start), end: doc.offsetAt(e.range.end), newText: e.newText }))
        .sort((a, b) => b.start - a.start || b.end - a.end);
    let out = text;
    for (const e of sorted) {
        out = out.slice(0, e.start) + e.newText + out.slice(e.end);
    }
    return out;
}

describe('sd-prompt extension host', () => {
    it('loads the extension under development', () => {
        const ext = vscode.extensions.all.find(e => e.id.toLowerCase() === EXTENSION_ID);
        assert.ok(ext, `extension ${EXTENSION_ID} not among: ${vscode.extensions.all.map(e => e.id).filter(id => !id.startsWith('vscode.')).join(', ')}`);
        assert.strictEqual(ext.packageJSON.name, 'sd-prompt');
    });

    it('gives .prompt files the sd-prompt language', async () => {
        const doc = await openExample();
        assert.strictEqual(doc.languageId, LANGUAGE_ID);
        assert.strictEqual(doc.lineAt(0).text, EXAMPLE_LINE_0);
        assert.strictEqual(doc.lineCount, 4); // three lines and the final newline
    });
});

describe('sd-prompt language server', () => {
    it('warns about the spaces around the LoRA name', async () => {
        const doc = await openAndActivate();
        const d = await waitForDiagnostic(doc.uri, x => codeOf(x) === 'tag-name-whitespace', '`tag-name-whitespace`', DIAGNOSTIC_TIMEOUT_MS);
        assert.strictEqual(d.source, 'sd-prompt');
        assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Warning);
        // ` add_detail ` (with both spaces) inside `<lora: add_detail :0.8>`: characters 39..51 of line 0.
        assert.strictEqual(EXAMPLE_LINE_0.slice(39, 51), ' add_detail ');
        assert.deepStrictEqual(
            [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character],
            [0, 39, 0, 51],
            `range of: ${describeDiagnostics([d])}`,
        );
        // For the README: the warning's hover on the tag.
        const editor = await vscode.window.showTextDocument(doc, { preview: false });
        editor.selection = new vscode.Selection(0, 44, 0, 44);
        await vscode.commands.executeCommand('editor.action.showHover');
        await requestScreenshot('diagnostics');
        await vscode.commands.executeCommand('editor.action.hideHover');
    });

    it('hovers a weighted tag with its weight', async () => {
        const doc = await openAndActivate();
        const position = new vscode.Position(0, 17); // inside `best quality` of `(best quality:1.2)`
        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, position);
        assert.ok(hovers && hovers.length > 0, 'no hover at 0:17 (inside `best quality`)');
        const text = hovers.map(hoverText).join('\n---\n');
        assert.ok(text.includes('1.2'), `hover does not mention 1.2:\n${text}`);
    });

    it('formats the LoRA tag and changes nothing else', async () => {
        const doc = await openAndActivate();
        const original = doc.getText();
        const edits = await vscode.commands.executeCommand<vscode.TextEdit[]>(
            'vscode.executeFormatDocumentProvider',
            doc.uri,
            { tabSize: 4, insertSpaces: true } satisfies vscode.FormattingOptions,
        );
        assert.ok(edits && edits.length > 0, 'the formatter returned no edits');
        const expected = original.replace('<lora: add_detail :0.8>', '<lora:add_detail:0.8>');
        assert.notStrictEqual(expected, original);
        assert.strictEqual(applyEdits(doc, edits), expected);
        assert.strictEqual(doc.getText(), original, 'the document itself must not change');
    });
});
