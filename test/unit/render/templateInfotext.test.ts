import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { renderParameters } from '../../../server/src/render/parameters';
import { createInfotext } from '../../../server/src/render/pipeline/infotext';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { expandPromptFile } from '../../../server/src/service/dynamic/expand';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { renderPrompt } from '../../../server/src/service/features/renderPrompt';
import { FIXTURES } from '../fixtures';

describe("sd-dynamic-prompts' Template: lines in a render's infotext", () => {
  it('are appended after the parameter line, unquoted, each only when not empty (as its PngInfoSaver does)', () => {
    const base = { prompt: 'red ball', negativePrompt: 'lowres', parameters: [['Steps', 2], ['Seed', 7]] as [string, number][] };
    assert.strictEqual(
      createInfotext({ ...base, templates: { prompt: '{red|blue} ball, a: b', negativePrompt: 'lowres' } }),
      'red ball\nNegative prompt: lowres\nSteps: 2, Seed: 7\nTemplate: {red|blue} ball, a: b\nNegative Template: lowres',
    );
    assert.strictEqual(createInfotext({ ...base, templates: { prompt: '{red|blue} ball', negativePrompt: '' } }), 'red ball\nNegative prompt: lowres\nSteps: 2, Seed: 7\nTemplate: {red|blue} ball');
    assert.strictEqual(createInfotext(base), 'red ball\nNegative prompt: lowres\nSteps: 2, Seed: 7');
  });

  it('renderParameters reads them from the text Render Preview renders; a file without them has none', () => {
    assert.deepStrictEqual(renderParameters('red ball\nSteps: 2, Seed: 7\nTemplate: {red|blue} ball', { model: '/m' }).templates, {
      prompt: '{red|blue} ball',
      negativePrompt: '',
    });
    assert.strictEqual(renderParameters('red ball\nSteps: 2, Seed: 7', { model: '/m' }).templates, undefined);
  });

  describe('a local render on the tiny SD1.5 pipeline (CPU EP)', function () {
    this.timeout(60000);
    let root: string;
    let sessions: ModelSessions;
    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-template-'));
      generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
      sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
    });
    after(async () => {
      await sessions?.release();
      fs.rmSync(root, { recursive: true, force: true });
    });

    it("the PNG's infotext carries the variant as its prompt and the templates after the parameters, and expands again to the same variant", async () => {
      const file = '{red|blue} ball # soft\nNegative prompt: {noise|grain}\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 7, Size: 64x64';
      const { promptText } = renderPrompt(file, { enabled: true, wildcards: new WildcardLibrary(new Map()), defaultSteps: 20 });
      const result = await renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(promptText, { model: root }));
      const infotext = readPngInfo(result.png).text.parameters;
      const lines = infotext.split('\n');
      assert.deepStrictEqual([lines[0], lines[1]], [`${promptText.split('\n')[0]}`, promptText.split('\n')[1]]);
      // dynamicprompts drops the comment and keeps the space before it.
      assert.match(lines[0], /^(red|blue) ball $/);
      assert.match(lines[2], /^Steps: 2, Sampler: Euler, Schedule type: Automatic, CFG scale: 7, Seed: 7, Size: 64x64, Model: sd-template-\w+, .*Version: sd-prompt$/);
      assert.deepStrictEqual(lines.slice(3), ['Template: {red|blue} ball # soft', 'Negative Template: {noise|grain}']);
      // Pasted back, the image's generation data gives the same prompts for its seed.
      const again = expandPromptFile(infotext, new WildcardLibrary(new Map()), { mode: 'random' });
      assert.deepStrictEqual([again.prompts[0], again.negativePrompts[0]], [lines[0], lines[1].replace('Negative prompt: ', '')]);
    });
  });
});
