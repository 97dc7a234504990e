import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { encodePng } from '../../../server/src/render/pipeline/png';
import { FileStat, LibraryFileSystem } from '../../../server/src/service/library/fileSystem';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { imageLinkAt, imageLinkHover, MAX_IMAGE_BYTES, resolveImagePath } from '../../../server/src/service/features/imageLinkHover';

const INFOTEXT = 'a red ball, (shiny:1.2)\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 8x8';
const png = (text: Record<string, string>) => encodePng(2, 2, new Uint8Array(12), text);

function disk() {
  const fs = new MemoryFileSystem();
  fs.writeFile('/work/out/00001-7.png', png({ parameters: INFOTEXT }));
  fs.writeFile('/work/out/my image.png', png({ parameters: 'a cat\nSteps: 5, Seed: 1, Sampler: Euler' }));
  fs.writeFile('/work/out/plain.png', png({ Software: 'GIMP' }));
  fs.writeFile('/work/out/broken.webp', 'RIFF....not really');
  fs.writeFile('/work/out/tricky.png', png({ parameters: 'a ```fence``` [link](http://x) \u202Eevil\nSteps: 5, Seed: 1, Sampler: Euler' }));
  return fs;
}

async function hover(text: string, at: string, files: Pick<LibraryFileSystem, 'stat' | 'readBytes'> = disk(), uri = 'file:///work/prompts/ball.prompt') {
  const document = TextDocument.create(uri, 'sd-prompt', 1, text);
  const offset = text.indexOf(at);
  assert.ok(offset >= 0, at);
  const h = await imageLinkHover(document, offset, files);
  if (!h) return null;
  const r = h.range!;
  return { value: (h.contents as { value: string }).value, range: text.slice(document.offsetAt(r.start), document.offsetAt(r.end)) };
}

describe('hover on an image link in a .prompt', () => {
  it('finds the path under the cursor: bare, quoted (spaces), file: URI, Windows; not beside it', () => {
    const line = '# from ../out/00001-7.png and "C:\\pics\\my image.JPG", file:///work/out/a%20b.webp, (x:1.2) cat.png';
    const at = (s: string) => imageLinkAt(line, line.indexOf(s));
    assert.deepStrictEqual(at('00001'), { written: '../out/00001-7.png', span: { start: 7, end: 25 } });
    assert.deepStrictEqual(at('pics')!.written, 'C:\\pics\\my image.JPG');
    assert.deepStrictEqual(at('a%20b')!.written, 'file:///work/out/a%20b.webp');
    assert.deepStrictEqual(at('cat.png')!.written, 'cat.png');
    assert.strictEqual(at('from'), undefined);
    assert.strictEqual(imageLinkAt('a picture.pngx of a cat', 4), undefined);
  });

  it('resolves relative to the document, absolute, Windows drive, UNC and file: URIs', () => {
    const doc = 'file:///work/prompts/ball.prompt';
    assert.deepStrictEqual(resolveImagePath('../out/./x.png', doc), { path: '/work/out/x.png' });
    assert.deepStrictEqual(resolveImagePath('/abs/x.png', doc), { path: '/abs/x.png' });
    assert.deepStrictEqual(resolveImagePath('C:\\pics\\..\\x.png', 'file:///c%3A/p/a.prompt'), { path: 'C:/x.png' });
    assert.deepStrictEqual(resolveImagePath('x.png', 'file:///c%3A/p/a.prompt'), { path: 'c:/p/x.png' });
    assert.deepStrictEqual(resolveImagePath('\\\\nas\\share\\x.png', doc), { path: '//nas/share/x.png' });
    assert.deepStrictEqual(resolveImagePath('file:///work/out/a%20b.webp', doc), { path: '/work/out/a b.webp' });
    assert.deepStrictEqual(resolveImagePath('file://nas/share/x.png', doc), { path: '//nas/share/x.png' });
    assert.deepStrictEqual(resolveImagePath('x.png', 'untitled:Untitled-1'), {
      problem: "'x.png' is relative, and this document is not a saved file to be relative to",
    });
    assert.deepStrictEqual(resolveImagePath('file:///bad%E0.png', doc), { problem: "'file:///bad%E0.png' is not a file URI that can be read" });
  });

  it("shows the image's generation data as the .prompt it would paste", async () => {
    assert.deepStrictEqual(await hover('a cat # see ../out/00001-7.png', '00001'), {
      range: '../out/00001-7.png',
      value: `**Generation data** (A1111, PNG) of \`/work/out/00001-7.png\`\n\n\`\`\`text\n${INFOTEXT}\n\`\`\``,
    });
    assert.strictEqual((await hover('"/work/out/my image.png"', 'image'))!.value.split('\n').slice(2, 4).join('\n'), '```text\na cat');
  });

  it('a missing, data-less, broken, too large or unreadable image says so', async () => {
    assert.strictEqual((await hover('../out/gone.png', 'gone'))!.value, '`/work/out/gone.png`: no such file.');
    assert.strictEqual((await hover('../out/plain.png', 'plain'))!.value, '`/work/out/plain.png`: PNG has no generation data (its text chunks: Software).');
    assert.match((await hover('../out/broken.webp', 'broken'))!.value, /^`\/work\/out\/broken\.webp`: .+\.$/);
    const huge: { stat(): Promise<FileStat>; readBytes(): Promise<Uint8Array>; reads: number } = {
      reads: 0,
      stat: async () => ({ kind: 'file', size: 5 * 1024 ** 3, mtimeMs: 0 }),
      readBytes: async () => {
        huge.reads++;
        return new Uint8Array(0);
      },
    };
    assert.strictEqual((await hover('/big.png', 'big', huge))!.value, `\`/big.png\` is 5120 MiB: images over ${MAX_IMAGE_BYTES / 1024 / 1024} MiB are not read for a hover.`);
    assert.strictEqual(huge.reads, 0);
    const denied = { stat: async (): Promise<FileStat> => ({ kind: 'file', size: 10, mtimeMs: 0 }), readBytes: async () => Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })) };
    assert.strictEqual((await hover('/locked.png', 'locked', denied))!.value, '`/locked.png` could not be read: EACCES: permission denied');
    assert.strictEqual((await hover('/work/out', 'out', disk()))?.value, undefined);
  });

  it("the image's text cannot break out of the code block or smuggle bidi controls", async () => {
    const value = (await hover('/work/out/tricky.png', 'tricky'))!.value;
    assert.strictEqual(value, '**Generation data** (A1111, PNG) of `/work/out/tricky.png`\n\n````text\na ```fence``` [link](http://x) evil\nSteps: 5, Seed: 1, Sampler: Euler\n````');
  });

  it('no link under the cursor: no hover', async () => {
    assert.strictEqual(await hover('a red ball, <lora:x:1>', 'red'), null);
  });
});
