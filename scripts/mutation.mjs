#!/usr/bin/env node
// `npm run mutation [-- --area semantics|tokens|render] [-- other Stryker options, e.g. --incremental]`: runs
// Stryker (stryker.config.mjs) over each area, then prints the mutation score of each mutated folder.
// Areas: semantics (service/semantics), tokens (service/tokens), render (LoRA keys and math, render/pipeline).
// `-- --area A --mutate FILE[:LINES][,FILE...]` mutates only those files (Stryker's own option) and runs only the
// tests stryker.config.mjs's TESTS_OF lists for them (e.g. the tokenizer tests alone for clipTokenizer.ts),
// with its own report, reports/mutation/A-<file names>.json, and incremental file.
// StrykerJS 10 needs Node 22 or later; on an older Node this runs itself again on Node 22 from the npm
// registry (`npx -p node@22`), so the project itself can stay on Node 20.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AREAS = ['semantics', 'tokens', 'render'];
/** The folders the score is reported for, in this order; a file belongs to the first that prefixes it. */
const FOLDERS = ['server/src/service/semantics', 'server/src/service/tokens', 'server/src/render/lora', 'server/src/render/pipeline'];

const args = process.argv.slice(2);
const areaFlag = args.indexOf('--area');
const areas = areaFlag >= 0 ? [args[areaFlag + 1]] : AREAS;
if (areaFlag >= 0) args.splice(areaFlag, 2);
const mutateFlag = args.findIndex((a) => a === '--mutate' || a === '-m' || a.startsWith('--mutate='));
const mutated = mutateFlag < 0 ? undefined : args[mutateFlag].startsWith('--mutate=') ? args[mutateFlag].slice(9) : args[mutateFlag + 1];
if (!areas.every((a) => AREAS.includes(a))) {
  console.error(`--area takes one of ${AREAS.join(', ')}.`);
  process.exit(2);
}

function run(command, commandArgs, env = process.env) {
  const result = spawnSync(command, commandArgs, { cwd: root, env, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (Number(process.versions.node.split('.')[0]) < 22) {
  console.log(`Node ${process.versions.node} is older than StrykerJS needs (22): running on Node 22 from npm.`);
  process.exit(run('npx', ['--yes', '-p', 'node@22', '--', 'node', fileURLToPath(import.meta.url), ...process.argv.slice(2)]));
}

// In every process Stryker starts (its test runners load mocha): see mochaCjsPaths.cjs.
const preload = `--require ${JSON.stringify(path.join(root, 'scripts/mochaCjsPaths.cjs'))}`;
const stryker = path.join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js');
let failed = 0;
const reports = [];
for (const area of areas) {
  const runName = mutated ? `${area}-${mutated.split(',').map((f) => path.basename(f.trim()).replace(/[^\w.-]+/g, '_')).join('+')}` : area;
  const report = path.join(root, `reports/mutation/${runName}.json`);
  fs.rmSync(report, { force: true });
  console.log(`\n=== Mutation testing: ${area} ===`);
  const env = { ...process.env, MUTATION_AREA: area, MUTATION_MUTATE: mutated ?? '', MUTATION_RUN: runName, NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ') };
  const status = run(process.execPath, [stryker, 'run', 'stryker.config.mjs', ...args], env);
  if (status !== 0) failed = status;
  if (fs.existsSync(report)) reports.push(JSON.parse(fs.readFileSync(report, 'utf8')));
  else console.error(`Stryker wrote no report for ${area} (${path.relative(root, report)}); exit code ${status}.`);
}
printScores(reports);
process.exit(failed);

/**
 * Stryker's mutation score: detected (killed, timed out) over valid mutants; compile errors (the
 * TypeScript checker's), runtime errors and ignored mutants are not counted.
 */
function printScores(list) {
  const rows = new Map();
  for (const report of list) {
    for (const [file, { mutants }] of Object.entries(report.files)) {
      const relative = path.relative(root, path.resolve(root, file)).split(path.sep).join('/');
      const folder = FOLDERS.find((f) => relative.startsWith(f + '/')) ?? path.posix.dirname(relative);
      const row = rows.get(folder) ?? { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
      for (const { status } of mutants) {
        if (status === 'Killed') row.killed++;
        else if (status === 'Timeout') row.timeout++;
        else if (status === 'Survived') row.survived++;
        else if (status === 'NoCoverage') row.noCoverage++;
        else row.other++;
      }
      rows.set(folder, row);
    }
  }
  console.log('\nMutation score per folder (killed + timed out, of killed + timed out + survived + no coverage):');
  const rank = (folder) => (FOLDERS.includes(folder) ? FOLDERS.indexOf(folder) : FOLDERS.length);
  for (const folder of [...rows.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    const { killed, timeout, survived, noCoverage, other } = rows.get(folder);
    const valid = killed + timeout + survived + noCoverage;
    const score = valid ? ((100 * (killed + timeout)) / valid).toFixed(1) + '%' : 'n/a';
    console.log(
      `  ${folder.padEnd(30)} ${score.padStart(6)}  killed ${killed}, timed out ${timeout}, survived ${survived}, no coverage ${noCoverage}` +
        (other ? `, not counted (compile errors, runtime errors, ignored) ${other}` : ''),
    );
  }
}
