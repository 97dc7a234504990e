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
/** The X/Y/Z plot: axis specs planned into cells, the cells run on the local engine or a backend, the grid image. */
export { planGrid, parseAxisSpec, suggestAxisSpec, XYZ_AXIS_TYPES, GridSpecError } from '../service/xyz';
export type { GridAxis, GridCellPlan, GridPlan, GridPlanContext, XyzAxisName, XyzAxisType, XyzAxisTypeInfo } from '../service/xyz';
export { runGrid } from './grid/gridRunner';
export type { CellResult, GridCellOutcome, GridRunResult, RenderCell } from './grid/gridRunner';
export { backendCellRenderer, localCellRenderer } from './grid/gridCellRenderers';
export type { CellProgress } from './grid/gridCellRenderers';
export { drawGrid, drawZGrid } from './grid/gridImage';
export { decodePng, gridPng } from './grid/gridImagePng';
export type { RgbImage } from './grid/gridImageTypes';
