import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

/** Test pipelines are built on the production graph builders, never the other way round: the extension does not ship testModel/. */
describe('Production code and testModel/', () => {
  it('no file under server/src outside render/testModel imports from it', () => {
    const root = path.resolve(__dirname, '../../../../server/src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (p !== path.join(root, 'render', 'testModel')) walk(p);
        } else if (entry.name.endsWith('.ts')) {
          const text = fs.readFileSync(p, 'utf8');
          if (/from\s+['"][^'"]*testModel\//.test(text) || /require\(\s*['"][^'"]*testModel\//.test(text)) offenders.push(path.relative(root, p));
        }
      }
    };
    walk(root);
    assert.ok(fs.existsSync(path.join(root, 'render', 'sdGraphs', 'net.ts')), `${root} holds the sources`);
    assert.deepStrictEqual(offenders, []);
  });
});
