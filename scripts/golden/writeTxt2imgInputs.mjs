#!/usr/bin/env node
// Writes what scripts/golden/txt2img.py needs besides its own transcription (usage: README.md here):
//   <dir>/weights/<name>.npy  the transcribable pipeline's weights (server/src/render/testModel/transcribablePipeline.ts)
//   <dir>/tokens.json         each text of txt2imgCases.json as the project chunks it: per chunk, [id, weight] per token
//                             (the tokenizer and the emphasis parser have their own tests; the script builds the
//                             77-id encoder inputs, the emphasis and everything after that itself)
//   <dir>/noise.json          per seed, the pipeline's N(0,1) draws (pipeline/rng/, A1111's GPU noise) in the order the loop makes
//                             them, one latent-sized block per draw: the goldens test the loop, not the generator
// Run `npx tsc -p .` first: this reads the compiled modules under out/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const out = (p) => path.join(repo, 'out', p);
const { transcribableWeights, npyBytes } = require(out('server/src/render/testModel/transcribablePipeline.js'));
const { ClipTokenizer } = require(out('server/src/service/tokens/clipTokenizer.js'));
const { chunkPrompt, weightedTexts } = require(out('server/src/service/tokens/chunks.js'));
const { parseAttention } = require(out('server/src/service/semantics/attention.js'));
const { renderImageRng } = require(out('server/src/render/pipeline/rng/renderNoise.js'));

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/golden/writeTxt2imgInputs.mjs <folder>');
  process.exit(2);
}
const cases = JSON.parse(fs.readFileSync(path.join(repo, 'scripts/golden/txt2imgCases.json'), 'utf8'));

fs.mkdirSync(path.join(dir, 'weights'), { recursive: true });
for (const [name, weight] of Object.entries(transcribableWeights())) fs.writeFileSync(path.join(dir, 'weights', `${name}.npy`), npyBytes(weight));

const clip = path.join(repo, 'test/fixtures/clip');
const made = ClipTokenizer.fromText(fs.readFileSync(path.join(clip, 'vocab.json'), 'utf8'), fs.readFileSync(path.join(clip, 'merges.txt'), 'utf8'));
if ('problem' in made) throw new Error(made.problem);
const texts = new Set(['']);
for (const c of cases.cases) {
  for (const part of [...c.parts, c.negative]) for (const t of part.edit ? part.edit.slice(0, 2) : [part.text]) texts.add(t);
}
const tokens = {};
for (const text of texts) {
  const chunks = chunkPrompt(weightedTexts(parseAttention(text).segments), made.tokenizer).chunks;
  tokens[text] = chunks.map((chunk) => chunk.tokens.map((t) => [t.id, t.weight]));
}
fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify({ bos: made.tokenizer.bosId, eos: made.tokenizer.eosId, texts: tokens }, null, 1));

const noise = {};
// Enough draws for the longest case of each seed: the first latent, then at most one per step.
const draws = new Map();
for (const c of cases.cases) draws.set(c.seed, Math.max(draws.get(c.seed) ?? 0, c.steps + 1));
for (const [seed, count] of draws) {
  const rng = renderImageRng({ seed, width: cases.width, height: cases.height });
  noise[seed] = Array.from({ length: count }, () => Array.from(rng.next()));
}
fs.writeFileSync(path.join(dir, 'noise.json'), JSON.stringify(noise));
console.log(`wrote ${dir}/weights, tokens.json (${texts.size} texts), noise.json (${Object.keys(noise).length} seeds)`);
