import * as assert from 'assert';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { parseStructuredWildcards, parseWildcardText } from '../../../server/src/service/dynamic/wildcardFiles';
import { loadWildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';
import { dynamicPromptsEnabled, wildcardFolders } from '../../../server/src/service/dynamic/wildcardFolders';

describe('wildcard files as dynamicprompts reads them', () => {
  it('text: one value a line, stripped; blank lines and lines starting with # skipped; duplicates once', () => {
    assert.deepStrictEqual(parseWildcardText('fox\r\n  heron  \n\n   # a comment\n#another\nred # not a comment\nfox\rlast'), [
      'fox',
      'heron',
      'red # not a comment',
      'last',
    ]);
  });

  it('YAML: nested keys become paths, "2::text" and {text, weight} give weights, other items are skipped', () => {
    const yaml = 'clothing:\n  tops: [shirt, "3::coat", {text: scarf, weight: 0.5}, {content: vest}, 12, ""]\n  shoes:\n    - boots\nbad: 7\n';
    const parsed = parseStructuredWildcards(yaml, 'yaml', 'wear');
    assert.deepStrictEqual(parsed.collections, [
      { key: 'clothing/tops', items: ['shirt', { content: 'coat', weight: 3 }, { content: 'scarf', weight: 0.5 }, 'vest'] },
      { key: 'clothing/shoes', items: ['boots'] },
    ]);
    assert.deepStrictEqual(parsed.warnings, ["key 'clothing/tops': unsupported list item 12 skipped", "key 'bad' holds neither a list nor a map; dynamicprompts skips it"]);
  });

  it('YAML 1.1 as PyYAML reads it (yes is not text); JSON; a top-level list takes the file name', () => {
    assert.deepStrictEqual(parseStructuredWildcards('a: [yes, "yes", no]', 'yaml', 'f').collections, [{ key: 'a', items: ['yes'] }]);
    assert.deepStrictEqual(parseStructuredWildcards('{"a": {"b": ["x", "y"]}}', 'json', 'f').collections, [{ key: 'a/b', items: ['x', 'y'] }]);
    assert.deepStrictEqual(parseStructuredWildcards('["x", 3, ""]', 'json', 'colors').collections, [{ key: 'colors', items: ['x', ''] }]);
    assert.match(parseStructuredWildcards('{"a": [', 'json', 'f').warnings[0], /^cannot read it as JSON/);
  });
});

describe('wildcard library over folders', () => {
  async function library() {
    const fs = new MemoryFileSystem();
    fs.writeFile('/w/times.txt', 'dusk\ndawn\n');
    fs.writeFile('/w/animals/forest.txt', 'fox\nheron\n# not a value\nbadger\n');
    fs.writeFile('/w/animals/sea.txt', 'seal\nfox\n');
    fs.writeFile('/w/animals/deep/fish.txt', 'eel\n');
    fs.writeFile('/w/.hidden/secret.txt', 'x\n');
    fs.writeFile('/w/packs/wear.yaml', 'tops: [shirt, coat]\n');
    fs.writeFile('/w/notes.md', 'ignored\n');
    fs.writeFile('/user/times.txt', 'noon\n');
    return loadWildcardLibrary(fs, ['/w', '/user']);
  }

  it('names: folders as paths, YAML keys under the file\'s folder, hidden folders skipped', async () => {
    const lib = await library();
    assert.deepStrictEqual(lib.names().sort(), ['animals/deep/fish', 'animals/forest', 'animals/sea', 'packs/tops', 'times']);
  });

  it('a later folder replaces a wildcard of the same name', async () => {
    assert.deepStrictEqual((await library()).values('times').stringValues, ['noon']);
  });

  it('globs match with fnmatch (* crosses folders), values deduplicated and sorted', async () => {
    const lib = await library();
    assert.deepStrictEqual(lib.values('animals/*').stringValues, ['badger', 'eel', 'fox', 'heron', 'seal']);
    assert.deepStrictEqual(lib.values('animals/s*').stringValues, ['fox', 'seal']);
    assert.deepStrictEqual(lib.values('__packs/tops__').stringValues, ['coat', 'shirt']);
  });

  it('a name that matches nothing is retried as **/name; .. and a leading / match nothing', async () => {
    const lib = await library();
    assert.deepStrictEqual(lib.values('forest').stringValues, ['badger', 'fox', 'heron']);
    assert.deepStrictEqual(lib.values('fish').stringValues, ['eel']);
    assert.strictEqual(lib.values('../w/times').length, 0);
    assert.strictEqual(lib.values('/times').length, 0);
  });

  it('settings: the webui extension folder first, then sdPrompt.wildcards.directories; on when the extension is there', () => {
    const settings = { ...DEFAULT_SETTINGS, webuiPath: '/sd/', wildcards: { directories: ['/mine'] } };
    const exists = (p: string) => p.startsWith('/sd/extensions/sd-dynamic-prompts');
    assert.deepStrictEqual(wildcardFolders(settings, exists), ['/sd/extensions/sd-dynamic-prompts/wildcards', '/mine']);
    assert.strictEqual(dynamicPromptsEnabled(settings, exists), true);
    assert.strictEqual(dynamicPromptsEnabled(settings, () => false), false);
    assert.strictEqual(dynamicPromptsEnabled({ ...settings, dynamicPrompts: { enable: true } }, () => false), true);
  });
});
