import type { BackendErrorKind, BackendKind } from '../../../server/src/render/api';
import { BACKEND_LABELS } from './renderTarget';

/** What a failed server render tells the person: one message, and the action that helps fix it, if one does. */
export interface BackendFault {
  message: string;
  action?: 'Set Credentials' | 'Open Settings';
}

/**
 * The message for a BackendError (its own message already says what and where): wrong credentials offer
 * Set Credentials, a server that cannot be reached or is not the backend named offers Open Settings; a
 * missing model or LoRA, a server error or a dropped connection is for the server's side, no action.
 */
export function backendFault(kind: BackendKind, error: { kind: BackendErrorKind; message: string }): BackendFault {
  const message = `Render on ${BACKEND_LABELS[kind]} failed: ${error.message}`;
  switch (error.kind) {
    case 'auth':
      return { message, action: 'Set Credentials' };
    case 'unreachable':
    case 'bad-input':
    case 'protocol':
      return { message, action: 'Open Settings' };
    default:
      return { message };
  }
}
