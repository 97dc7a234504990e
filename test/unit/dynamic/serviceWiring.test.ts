import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { MarkupContent } from 'vscode-languageserver-types';
import { createPromptLanguageService, DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service';
import { dynamicPromptsEnabled } from '../../../server/src/service/dynamic/wildcardFolders';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';

const wildcards = new WildcardLibrary(
  new Map([
    ['times', { name: 'times', items: ['noon', 'dawn', 'dusk'], file: '/w/times.txt' }],
    ['animals/forest', { name: 'animals/forest', items: ['fox', 'heron'], file: '/w/animals/forest.txt' }],
  ]),
);
const on: PromptSettings = { ...DEFAULT_SETTINGS, dynamicPrompts: { ...DEFAULT_SETTINGS.dynamicPrompts, enable: true } };
const service = createPromptLanguageService({ wildcards: () => wildcards });
let n = 0;
const open = (text: string) => TextDocument.create(`file:///d${++n}.prompt`, 'sd-prompt', 1, text);

/** The language service routes dynamic prompts to its features when they are on, and leaves them alone when off. */
describe('dynamic prompts in the language service', () => {
  it('an unknown wildcard is a diagnostic with did-you-mean; a known one is not', () => {
    const codes = (text: string, s = on) => service.diagnostics(open(text), s).map((d) => [d.code, d.message]);
    assert.deepStrictEqual(codes('a __time__ cat'), [['wildcard-unknown', codes('a __time__ cat')[0][1]]]);
    assert.match(String(codes('a __time__ cat')[0][1]), /times/);
    assert.deepStrictEqual(codes('a __times__ cat'), []);
  });

  it('hover on a wildcard lists its values when on; off, the usual hover (none here)', async () => {
    const doc = open('a __times__ cat');
    const h = await service.hover(doc, doc.positionAt(5), on);
    assert.match((h!.contents as MarkupContent).value, /noon/);
    assert.strictEqual(await service.hover(doc, doc.positionAt(5), DEFAULT_SETTINGS), null);
  });

  it('completion after __ offers wildcard names only when on', async () => {
    const doc = open('a __ani');
    const list = await service.completion(doc, doc.positionAt(7), on);
    assert.deepStrictEqual(list.items.map((i) => i.label), ['animals/forest']);
    const off = await service.completion(doc, doc.positionAt(7), DEFAULT_SETTINGS);
    assert.ok(!off.items.some((i) => i.label === 'animals/forest'));
  });

  it('the webui having sd-dynamic-prompts turns them on, as the extension there would read the braces', () => {
    const webui = { ...DEFAULT_SETTINGS, webuiPath: '/webui/' };
    assert.strictEqual(dynamicPromptsEnabled(webui, (p) => p === '/webui/extensions/sd-dynamic-prompts'), true);
    assert.strictEqual(dynamicPromptsEnabled(webui, () => false), false);
  });
});
