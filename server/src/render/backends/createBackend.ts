import { A1111Backend } from './a1111';
import { BackendError, BACKEND_KINDS, BackendKind, RenderBackend, ServerConnection } from './backend';
import { ComfyBackend } from './comfyui';
import { SwarmBackend } from './swarmui';

/** The client for a `--backend` / `sdPrompt.render.backend` value. */
export function createBackend(kind: string, conn: ServerConnection): RenderBackend {
  switch (kind as BackendKind) {
    case 'a1111':
      return new A1111Backend(conn);
    case 'comfyui':
      return new ComfyBackend(conn);
    case 'swarmui':
      return new SwarmBackend(conn);
    default:
      throw new BackendError('bad-input', `unknown render backend '${kind}' (one of ${BACKEND_KINDS.join(', ')})`);
  }
}
