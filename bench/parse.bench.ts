/**
 * Parse + all diagnostics, timed (never part of the test run; `npm run bench`).
 *   (a) the 55 real prompts of test/fixtures/prompts, (b) a 10,000-line file,
 *   (c) a 1 MB one-line prompt, (d) parse_prompt_attention on 3 MB.
 * With Debian's python3-lark and a copy of A1111's modules/prompt_parser.py (path in
 * A1111_PROMPT_PARSER; never committed: AGPL), A1111's own parser is timed on the same text.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findProblems } from '../server/src/service/features/diagnostics';
import { parseAttention } from '../server/src/service/semantics/attention';
import { DEFAULT_SETTINGS } from '../server/src/service/settings';
import { parsePromptDocument } from '../server/src/service/syntax/document';

const FIXTURE = path.resolve(__dirname, '../../test/fixtures/prompts/dflip3k_civitai_prompts.json');

function time(fn: () => void, minMs = 300): number {
  fn(); // warm-up
  const times: number[] = [];
  const deadline = Date.now() + minMs;
  do {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  } while (Date.now() < deadline || times.length < 3);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const analyse = (text: string) => findProblems(parsePromptDocument(text), DEFAULT_SETTINGS);

function main() {
  if (!fs.existsSync(FIXTURE)) {
    console.log(`skipped: ${FIXTURE} is missing (the real prompts live in test/fixtures)`);
    return;
  }
  const records: { prompt: string; negative_prompt: string; params: string }[] = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')).records;
  const files = records.map((r) => `${r.prompt}\nNegative prompt: ${r.negative_prompt}\n${r.params}\n`);
  const tenThousandLines = Array.from({ length: 10000 }, (_, i) => files[i % files.length].split('\n')[0]).join('\n');
  let oneMb = '';
  while (oneMb.length < 1_000_000) oneMb += records[oneMb.length % records.length].prompt.replace(/\n/g, ' ') + ', ';
  const threeMb = oneMb.repeat(3);

  const rows: [string, number][] = [
    ['(a) 55 real prompts, parse + diagnostics', time(() => files.forEach(analyse))],
    ['(b) 10,000-line file', time(() => analyse(tenThousandLines))],
    ['(c) 1 MB one-line prompt', time(() => analyse(oneMb))],
    ['(d) parse_prompt_attention, 3 MB', time(() => parseAttention(threeMb))],
  ];
  console.log(`sd-prompt (node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(45)} ${ms.toFixed(2).padStart(9)} ms`);

  const a1111 = timeA1111(records.map((r) => r.prompt), threeMb);
  if (typeof a1111 === 'string') {
    console.log(`A1111 column skipped: ${a1111}`);
    return;
  }
  console.log(`A1111 pipeline, 55 real prompts                 ${a1111.prompts.toFixed(2).padStart(9)} ms  (ratio ${(a1111.prompts / rows[0][1]).toFixed(1)}x; target >= 50x)`);
  console.log(`A1111 parse_prompt_attention, 3 MB              ${a1111.attention.toFixed(2).padStart(9)} ms  (ratio ${(a1111.attention / rows[3][1]).toFixed(1)}x)`);
}

/** Times A1111's own functions with Debian's python3-lark, or says why it cannot. */
function timeA1111(prompts: string[], big: string): { prompts: number; attention: number } | string {
  const source = process.env.A1111_PROMPT_PARSER;
  if (!source || !fs.existsSync(source)) return 'set A1111_PROMPT_PARSER to a copy of A1111 modules/prompt_parser.py';
  const py = '/usr/bin/python3';
  if (cp.spawnSync(py, ['-c', 'import lark']).status !== 0) return "Debian's python3-lark is not installed";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'a1111-bench-'));
  fs.writeFileSync(path.join(dir, 'prompts.json'), JSON.stringify({ prompts, big }));
  const script = `
import sys, json, time, types, importlib.util
sys.modules['torch'] = types.ModuleType('torch')  # prompt_parser imports torch; its parsing never uses it
spec = importlib.util.spec_from_file_location('prompt_parser', ${JSON.stringify(source)})
pp = importlib.util.module_from_spec(spec); spec.loader.exec_module(pp)
d = json.load(open(${JSON.stringify(path.join(dir, 'prompts.json'))}))
def pipeline(p):
    res, flat, _ = pp.get_multicond_prompt_list([p])
    for s in pp.get_learned_conditioning_prompt_schedules(flat, 20):
        for _, t in s: pp.parse_prompt_attention(t)
t0 = time.perf_counter(); [pipeline(p) for p in d['prompts']]; t1 = time.perf_counter()
pp.parse_prompt_attention(d['big']); t2 = time.perf_counter()
print(json.dumps({'prompts': (t1-t0)*1000, 'attention': (t2-t1)*1000}))
`;
  const r = cp.spawnSync(py, ['-c', script], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) return `A1111's parser failed: ${r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout);
}

main();
