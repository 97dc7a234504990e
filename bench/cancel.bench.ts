/**
 * How soon a cancelled render stops (`node out/bench/cancel.bench.js`): the time from Cancel to the render's
 * end, against one denoising step's time measured in the same run (a cancel takes effect between steps, so
 * it should stay within about one step). Printed, never asserted: the extension-host test checks that a
 * cancelled render writes no PNG; how fast belongs here, where a slow shared machine cannot fail a test.
 *   CANCEL_BENCH_RUNS   cancelled renders to time (default 3)
 *   CANCEL_BENCH_SIZE   image side in pixels (default 256)
 *   CANCEL_BENCH_AFTER  the step after which to cancel (default 3)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RenderError, RenderHost } from '../server/src/render/renderHost';
import { generateTinyPipeline, TINY_SD15 } from '../server/src/render/testModel/generateModel';

const FIXTURE_CLIP = path.resolve(__dirname, '../../test/fixtures/clip');

async function main() {
  const runs = Number(process.env.CANCEL_BENCH_RUNS ?? 3);
  const size = Number(process.env.CANCEL_BENCH_SIZE ?? 256);
  const after = Number(process.env.CANCEL_BENCH_AFTER ?? 3);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cancel-bench-'));
  const host = new RenderHost(path.resolve(__dirname, '../server/src/render/worker.js'));
  try {
    generateTinyPipeline(path.join(tmp, 'tiny'), { ...TINY_SD15, tokenizerFrom: FIXTURE_CLIP });
    const promptText = `a red apple\nSteps: 2000, Sampler: Euler, CFG scale: 7, Seed: 42, Size: ${size}x${size}\n`;
    const request = { promptText, model: path.join(tmp, 'tiny'), device: 'cpu' as const, loras: [] };
    console.log(`tiny SD1.5 at ${size}x${size} on the CPU, cancelled after step ${after}, ${runs} runs`);
    for (let run = 1; run <= runs; run++) {
      const abort = new AbortController();
      const stepEnds: number[] = [];
      let cancelledAt = 0;
      const rendering = host.render(request, {
        signal: abort.signal,
        onProgress: ({ step }) => {
          stepEnds.push(performance.now());
          if (step === after) {
            cancelledAt = performance.now();
            abort.abort();
          }
        },
      });
      const outcome = await rendering.then(
        () => 'finished (not cancelled!)',
        (e) => (e instanceof RenderError && e.cancelled ? 'cancelled' : `failed: ${(e as Error).message}`),
      );
      const stopped = performance.now() - cancelledAt;
      const step = stepEnds.length > 1 ? (stepEnds[stepEnds.length - 1] - stepEnds[0]) / (stepEnds.length - 1) : NaN;
      console.log(`run ${run}: ${outcome}; stopped ${stopped.toFixed(0)} ms after Cancel; one step ${step.toFixed(0)} ms (ratio ${(stopped / step).toFixed(2)})`);
    }
  } finally {
    await host.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
