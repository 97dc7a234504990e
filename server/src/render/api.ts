/**
 * The render engine as the extension uses it. The extension host, not the language server, runs
 * the render worker (a render needs the window's progress, cancellation and preview panel, and
 * must not block the server's diagnostics), so the client hosts this engine as a library. It
 * imports it through this one file: what the client may use is the list below, and the rest of
 * render/ can move without touching the client.
 */
export { RenderError, RenderHost } from './renderHost';
export type { RenderRequest, RenderResult } from './messages';
/** Part of `RenderRequest` (its `defaults`): the `sdPrompt.render.*` settings the client reads. */
export type { ParameterDefaults } from './parameters';
/** Renders on the user's own webui (`sdPrompt.render.backend`): the client picks one and passes the connection. */
export { createBackend } from './backends/createBackend';
export { BackendError, BACKEND_KINDS } from './backends/backend';
export type { BackendErrorKind, BackendKind, BackendProgress, BackendResult, RenderBackend, ServerConnection, ServerLora } from './backends/backend';
