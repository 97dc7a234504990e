/**
 * Tag completion over a tagcomplete-sized list (issue 16 item 1): `node out/bench/tags.bench.js`.
 * Generates a 200,000-line CSV in tagcomplete's format (danbooru-like names, `name_(series)`
 * characters, quoted alias lists, Zipf-like post counts), then prints:
 *   load:       reading the CSV (parseTagCsv) and building the index, and, as the reference,
 *               csv-parse's sync API reading the same text (the reason the reader is our own);
 *   memory:     heap and RSS growth from holding the index (after a GC; the bench re-runs itself
 *               with --expose-gc);
 *   completion: p50/p95 of the whole completion request (the service's `completion` on a
 *               document ending in the prefix) over 1,000 random prefixes, against a baseline that
 *               answers the same prefixes by scanning every name and alias and sorting the hits.
 * Targets: completion p95 under 20 ms, memory under 100 MB. Numbers only; never part of the test run.
 */
import * as cp from 'child_process';
import { parse } from 'csv-parse/sync';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../server/src/service';
import { parseTagCsv } from '../server/src/service/tags/tagCsv';
import { TagIndex } from '../server/src/service/tags/tagIndex';
import { tagKey } from '../server/src/service/tags/tagText';

const LINES = Number(process.env.TAG_LINES ?? 200_000);
const PREFIXES = 1000;
const LIMIT = 50;

if (typeof global.gc !== 'function') {
  const run = cp.spawnSync(process.execPath, ['--expose-gc', __filename], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
const gc = global.gc as () => void;

/** mulberry32: the same list every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(16);
const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)];

const ADJECTIVES = ['long', 'short', 'blue', 'red', 'black', 'white', 'open', 'closed', 'large', 'small', 'wet', 'torn', 'striped', 'frilled', 'holding', 'looking', 'floating', 'twin', 'side', 'multiple', 'grey', 'pink', 'green', 'purple', 'see-through', 'off-shoulder', 'puffy', 'detached', 'bare', 'crossed'];
const NOUNS = ['hair', 'eyes', 'skirt', 'shirt', 'sleeves', 'dress', 'gloves', 'ribbon', 'bow', 'hat', 'jacket', 'boots', 'background', 'sky', 'flower', 'sword', 'wings', 'tail', 'ears', 'legs', 'arms', 'mouth', 'collar', 'scarf', 'cape', 'umbrella', 'book', 'window', 'water', 'cloud'];
const SERIES = ['league_of_legends', 'genshin_impact', 'touhou', 'fate', 'pokemon', 'hololive', 'blue_archive', 'arknights', 'azur_lane', 'kantai_collection', 'idolmaster', 'umamusume', 'vocaloid', 'honkai', 'final_fantasy'];
const SYLLABLES = ['a', 'ka', 'ri', 'mi', 'to', 'na', 'sa', 'ko', 'yu', 'hi', 'ra', 'shi', 'no', 'ma', 'chi', 'ta', 'ru', 'ki', 'e', 'o'];
const name = () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(SYLLABLES)).join('');

function generateCsv(lines: number): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let rank = 0; out.length < lines; rank++) {
    const kind = rand();
    let tag: string;
    let category: number;
    if (kind < 0.55) {
      tag = `${pick(ADJECTIVES)}_${pick(NOUNS)}${rand() < 0.5 ? `_${pick(NOUNS)}` : ''}${rand() < 0.3 ? `_${name()}` : ''}`;
      category = 0;
    } else if (kind < 0.75) {
      tag = `${name()}_${name()}`;
      category = 1;
    } else if (kind < 0.93) {
      tag = `${name()}_${name()}_(${pick(SERIES)})`;
      category = 4;
    } else if (kind < 0.97) {
      tag = `${pick(SERIES)}_${name()}`;
      category = 3;
    } else {
      tag = `${name()}_(medium)`;
      category = 5;
    }
    if (seen.has(tag)) continue;
    seen.add(tag);
    const count = Math.max(1, Math.floor(6_000_000 / Math.pow(rank + 1, 1.05)));
    const aliasCount = rand() < 0.4 ? 0 : 1 + Math.floor(rand() * 4);
    const aliases = Array.from({ length: aliasCount }, (_, i) => (i === 0 ? tag.replace(/_/g, '') : `/${name()}`));
    const aliasField = aliases.length > 1 ? `"${aliases.join(',')}"` : aliases.join(',');
    out.push(`${tag},${category},${count},${aliasField}`);
  }
  return out.join('\n') + '\n';
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const ms = (x: number) => `${x.toFixed(2)} ms`;
const mb = (x: number) => `${(x / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const csv = generateCsv(LINES);
  console.log(`tags bench: ${LINES.toLocaleString('en')} lines, ${mb(csv.length)} of CSV`);

  // Prefixes as people type them: the start of a name or alias, 1-8 characters, some with spaces
  // for underscores; popular tags more often.
  const rows = csv.split('\n').filter((l) => l !== '');
  const prefixes: string[] = [];
  while (prefixes.length < PREFIXES) {
    const [tagName, , , ...rest] = rows[Math.floor(Math.pow(rand(), 2) * rows.length)].split(',');
    const aliases = rest.join(',').replace(/"/g, '').split(',').filter((a) => a !== '');
    const source = rand() < 0.8 || aliases.length === 0 ? tagName : pick(aliases);
    const cut = source.slice(0, 1 + Math.floor(rand() * Math.min(8, source.length)));
    prefixes.push(rand() < 0.5 ? cut.replace(/_/g, ' ') : cut);
  }
  rows.length = 0;

  // Load.
  let t = performance.now();
  const reference = parse(csv, { relax_column_count: true }) as string[][];
  const csvParseMs = performance.now() - t;
  const referenceRows = reference.length;
  reference.length = 0;
  gc();
  const before = process.memoryUsage();
  t = performance.now();
  let parsed: ReturnType<typeof parseTagCsv> | undefined = parseTagCsv(csv, '/bench/danbooru.csv');
  const parseMs = performance.now() - t;
  const problems = parsed.problems.length;
  t = performance.now();
  const index = TagIndex.build([{ path: '/bench/danbooru.csv', tags: parsed.tags }]);
  const buildMs = performance.now() - t;
  parsed = undefined;
  gc();
  const after = process.memoryUsage();
  console.log(`load:   parseTagCsv ${ms(parseMs)} (csv-parse sync on the same text: ${ms(csvParseMs)}, ${referenceRows} rows), index build ${ms(buildMs)}, ${index.size.toLocaleString('en')} tags, ${problems} problems`);
  console.log(`memory: heap +${mb(after.heapUsed - before.heapUsed)}, RSS +${mb(after.rss - before.rss)} with the index held, the parse dropped (target < 100 MB)`);

  // The whole completion request, as the server runs it.
  const service = createPromptLanguageService({ tags: () => index });
  const times: number[] = [];
  let items = 0;
  for (let i = 0; i < prefixes.length; i++) {
    const text = `masterpiece, best quality, ${prefixes[i]}`;
    const doc = TextDocument.create(`file:///bench${i}.prompt`, 'sd-prompt', 1, text);
    t = performance.now();
    const list = await service.completion(doc, doc.positionAt(text.length), DEFAULT_SETTINGS);
    times.push(performance.now() - t);
    items += list.items.length;
    service.forget(doc.uri);
  }
  times.sort((a, b) => a - b);

  // Baseline: every key scanned, hits sorted by count.
  const flat: { key: string; count: number; name: string }[] = [];
  for (const r of parseTagCsv(csv, '/bench/danbooru.csv').tags) {
    flat.push({ key: tagKey(r.name), count: r.postCount ?? 0, name: r.name });
    for (const a of r.aliases) flat.push({ key: tagKey(a), count: r.postCount ?? 0, name: r.name });
  }
  const naive: number[] = [];
  for (const prefix of prefixes) {
    t = performance.now();
    const key = tagKey(prefix);
    const hits = flat.filter((f) => f.key.startsWith(key)).sort((a, b) => b.count - a.count);
    const names = new Set<string>();
    for (const h of hits) {
      names.add(h.name);
      if (names.size === LIMIT) break;
    }
    naive.push(performance.now() - t);
  }
  naive.sort((a, b) => a - b);

  console.log(`completion (${PREFIXES} prefixes, ${(items / PREFIXES).toFixed(1)} items each):`);
  console.log(`  index + service:   p50 ${ms(percentile(times, 50))}  p95 ${ms(percentile(times, 95))}  max ${ms(times[times.length - 1])} (target p95 < 20 ms)`);
  console.log(`  baseline scan:     p50 ${ms(percentile(naive, 50))}  p95 ${ms(percentile(naive, 95))}  max ${ms(naive[naive.length - 1])}`);
}

void main();
