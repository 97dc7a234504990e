import * as assert from 'assert';
import { gridHtml } from '../../../client/src/preview/gridHtml';
import type { GridPlan } from '../../../server/src/service/xyz/gridTypes';

describe('X/Y/Z panel page', () => {
  it('the page lays the cells out under their labels, escaped, one button per cell', () => {
    const plan: GridPlan = {
      x: { type: 'Prompt S/R', values: ['<b>', 'x'], labels: ['<b>', 'x'] },
      y: { type: 'Seed', values: ['1'], labels: ['Seed: 1'] },
      cells: [
        { x: 0, y: 0, z: 0, promptText: 'a' },
        { x: 1, y: 0, z: 0, promptText: 'b' },
      ],
    };
    const html = gridHtml(plan, 'X/Y/Z Plot a.prompt', 'this computer (cpu)');
    assert.ok(html.includes('<th scope="col">&lt;b&gt;</th><th scope="col">x</th>'));
    assert.ok(html.includes('<th scope="row">Seed: 1</th><td><button class="cell waiting" id="cell-0" data-index="0" aria-label="&lt;b&gt;, Seed: 1"'));
    assert.strictEqual(html.match(/<button class="cell/g)!.length, 2);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'nonce-[^']+'; script-src 'nonce-[^']+'"/);
    assert.ok(html.includes('Rendering 2 cells on this computer (cpu)…'));
  });
});
