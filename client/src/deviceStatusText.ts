import { BACKEND_LABELS, describeTarget, isBackendKind, renderTarget } from './backends/renderTarget';

/** What ran the last render: a device of this computer, or a backend (`a1111`) with its server. */
export interface LastRun {
  device: string;
  server?: string;
}

/**
 * The render status bar item's text and tooltip: the device (`auto: cpu` once `auto` picked the CPU), or
 * the backend (`$(cloud) a1111`) with its server, and what ran the last render. Pure, for the unit tests.
 */
export function deviceStatusText(settings: { device: string; backend: string; server: string }, ran: LastRun | undefined): { text: string; tooltip: string } {
  const target = renderTarget(settings.backend, settings.server);
  if ('problem' in target) return { text: `$(warning) ${settings.backend}`, tooltip: `Render backend: ${target.problem}. Click to change.` };
  const lastRun = ran && (ran.server ? `${isBackendKind(ran.device) ? BACKEND_LABELS[ran.device] : ran.device} at ${ran.server}` : ran.device);
  if (target.kind !== 'local') {
    return { text: `$(cloud) ${target.kind}`, tooltip: `Renders on ${describeTarget(target, settings.device)}${lastRun ? ` (the last render ran on ${lastRun})` : ''}. Click to change.` };
  }
  const setting = settings.device;
  return {
    text: `$(chip) ${ran && !ran.server && ran.device !== setting ? `${setting}: ${ran.device}` : setting}`,
    tooltip: `Render device: ${setting}${lastRun ? ` (the last render ran on ${lastRun})` : ''}. Click to change.`,
  };
}
