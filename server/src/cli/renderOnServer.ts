import { BackendError, ServerConnection } from '../render/backends/backend';
import { createBackend } from '../render/backends/createBackend';
import { StagedFile } from './stagedOutput';
import type { RenderOptions } from './render';

/** `SD_PROMPT_SERVER_PASSWORD`: the password without putting it on the command line (shell history, `ps`). */
export const SERVER_PASSWORD_VARIABLE = 'SD_PROMPT_SERVER_PASSWORD';

/**
 * `sd-prompt render FILE --backend a1111|comfyui|swarmui --server URL`: the render runs on the
 * user's webui; the image is written only once it has fully arrived (never half a file), and
 * Ctrl-C tells the server to stop before the CLI exits.
 */
export async function runServerRender(
  o: RenderOptions,
  io: { stdout: (s: string) => void; stderr: (s: string) => void; readInput: (file: string) => string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const text = io.readInput(o.file);
  const out = o.out ?? o.file.replace(/\.prompt$/i, '') + '.png';
  const staged = StagedFile.create(out, [{ path: o.file, what: 'the prompt file itself' }]);
  const conn: ServerConnection = { url: o.server!, user: o.user, password: o.password ?? env[SERVER_PASSWORD_VARIABLE] };
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.on('SIGINT', onInterrupt);
  try {
    const backend = createBackend(o.backend!, conn);
    const { steps, seed, sampler, cfg, width, height } = o;
    let lastStep = -1;
    const result = await backend.render(
      { promptText: text, overrides: { steps, seed, sampler, cfg, width, height } },
      {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.step === lastStep || p.steps <= 0) return;
          lastStep = p.step;
          const bar = 30;
          const done = Math.round((Math.min(p.step, p.steps) / p.steps) * bar);
          io.stderr(`\r[${'#'.repeat(done)}${'.'.repeat(bar - done)}] step ${p.step}/${p.steps}`);
          if (p.step === p.steps) io.stderr('\n');
        },
      },
    );
    staged.commit(result.png);
    for (const note of result.notes) io.stderr(`sd-prompt: note: ${note}\n`);
    const summary = { out, backend: result.backend, server: result.server, model: result.model, seed: result.seed, steps: result.steps, sampler: result.sampler, width: result.width, height: result.height, notes: result.notes };
    io.stdout(o.json ? JSON.stringify(summary) + '\n' : `${out}: ${result.width}x${result.height}, ${result.steps} steps of ${result.sampler}, seed ${result.seed ?? '(server-chosen)'}, on ${result.backend} at ${result.server}\n`);
    return 0;
  } catch (e) {
    staged.abandon();
    if (e instanceof BackendError && e.kind === 'cancelled') {
      io.stderr(`sd-prompt: render cancelled (the server was told to stop); nothing written\n`);
      return 130;
    }
    throw e instanceof BackendError ? new Error(`render on ${o.backend} failed: ${e.message}`) : e;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}
