import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');

function sources(folder: string): string[] {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((e) => {
    const at = path.join(folder, e.name);
    return e.isDirectory() ? sources(at) : e.name.endsWith('.ts') ? [at] : [];
  });
}

/** Every module specifier a file imports or re-exports from. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/\bfrom\s+'([^']+)'/g)].map((m) => m[1]);
}

describe('what the extension and the language server share', () => {
  it('the client reaches server code only through common/, the render engine entry (render/api.ts) and the image readers (service/imageData)', () => {
    const reaching = sources(path.join(ROOT, 'client/src')).flatMap((file) =>
      importsOf(file)
        .map((spec) => path.relative(ROOT, path.resolve(path.dirname(file), spec)))
        .filter((target) => target.startsWith('server/'))
        .map((target) => `${path.relative(ROOT, file)} → ${target}`),
    );
    const allowed = reaching.filter((line) => line.endsWith('→ server/src/render/api') || line.endsWith('→ server/src/service/imageData'));
    assert.deepStrictEqual(reaching, allowed);
    assert.ok(allowed.length > 0, 'the client hosts the render engine, so something imports its entry');
  });

  it('common/ imports nothing from the client or the server', () => {
    const outside = sources(path.join(ROOT, 'common/src')).flatMap((file) => importsOf(file).filter((spec) => spec.startsWith('.') && !spec.startsWith('./')));
    assert.deepStrictEqual(outside, []);
  });
});
