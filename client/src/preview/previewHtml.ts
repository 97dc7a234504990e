import { randomBytes } from 'crypto';
import { Webview } from 'vscode';
import { loraLines } from './loraLines';
import { loraMergeSummary } from '../../../common/src/mergeReport';
import { BACKEND_LABELS } from '../backends/renderTarget';

/**
 * The preview panel's page: a strict CSP (scripts and styles only with this page's nonce, images only
 * from the webview's own resources, i.e. the output folder), VS Code's theme colours, native buttons
 * and a history strip that arrow keys move through. It draws what previewPanel.ts posts.
 */
export function previewHtml(webview: Webview): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource}`,
    // Copy Image reads the PNG it shows (only from the webview's own resources).
    `connect-src ${webview.cspSource}`,
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>SD Prompt Preview</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
  <header>
    <h1 id="title">Render Preview</h1>
    <p id="status" role="status" aria-live="polite"></p>
    <progress id="progress" max="1" value="0" hidden aria-label="Render progress"></progress>
  </header>
  <div class="toolbar" role="toolbar" aria-label="Image actions">
    <button id="save" type="button" disabled>Save PNG…</button>
    <button id="copyImage" type="button" class="secondary" disabled>Copy Image</button>
    <button id="copy" type="button" class="secondary" disabled>Copy Generation Data</button>
    <button id="rerender" type="button" class="secondary">Re-render with New Seed</button>
    <button id="open" type="button" class="secondary" disabled>Open in Editor</button>
  </div>
  <figure>
    <canvas id="latent" hidden aria-label="Preview of the image as it forms"></canvas>
    <img id="image" hidden alt="">
  </figure>
  <section id="details" hidden aria-labelledby="details-title">
    <h2 id="details-title">Parameters</h2>
    <pre id="infotext" tabindex="0" aria-label="Generation data"></pre>
    <dl id="facts"></dl>
    <div id="lora-section" hidden>
      <h2>LoRAs</h2>
      <ul id="loras"></ul>
    </div>
  </section>
  <section id="history-section" hidden aria-labelledby="history-title">
    <h2 id="history-title">Earlier renders of this file</h2>
    <div id="history" class="strip" role="listbox" aria-labelledby="history-title" tabindex="-1"></div>
  </section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
body { color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 0 16px 16px; }
h1 { font-size: 1.3em; margin: 12px 0 4px; }
h2 { font-size: 1.05em; margin: 16px 0 6px; }
#status { margin: 0 0 8px; color: var(--vscode-descriptionForeground); }
#status.error { color: var(--vscode-errorForeground); }
progress { width: 100%; max-width: 512px; accent-color: var(--vscode-progressBar-background); }
.toolbar { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); padding: 4px 12px; border-radius: 2px; cursor: pointer; }
button:hover:not(:disabled) { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button.secondary:hover:not(:disabled) { background: var(--vscode-button-secondaryHoverBackground); }
button:disabled { opacity: 0.5; cursor: default; }
:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
figure { margin: 8px 0; }
#image, #latent { display: block; width: min(100%, 512px); height: auto; border: 1px solid var(--vscode-panel-border, transparent); }
#latent { image-rendering: pixelated; }
[hidden] { display: none !important; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--vscode-textCodeBlock-background); padding: 8px; margin: 0; font-family: var(--vscode-editor-font-family); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dt { color: var(--vscode-descriptionForeground); }
dd { margin: 0; }
ul { padding-left: 18px; }
.warning { color: var(--vscode-editorWarning-foreground); }
.strip { display: flex; gap: 6px; overflow-x: auto; padding: 4px 2px; }
.strip button { padding: 2px; background: transparent; border: 2px solid transparent; }
.strip button[aria-selected="true"] { border-color: var(--vscode-focusBorder); }
.strip img { display: block; width: 64px; height: 64px; object-fit: cover; }
`;

/** Runs in the webview. Plain script: the page's CSP allows nothing else. */
const SCRIPT = `
const vscode = acquireVsCodeApi();
const $ = (id) => document.getElementById(id);
let state = { history: [], status: 'idle' };
let selectedId;

const loraMergeSummary = ${loraMergeSummary.toString()};
const loraLines = ${loraLines.toString()};
const BACKEND_LABELS = ${JSON.stringify(BACKEND_LABELS)};

const fmt = (ms) => ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : Math.round(ms) + ' ms';

function render() {
  const record = state.history.find((r) => r.id === selectedId) ?? state.history[0];
  $('title').textContent = state.title ?? 'Render Preview';
  const status = $('status');
  status.className = state.status === 'error' ? 'error' : '';
  status.textContent =
    state.status === 'rendering'
      ? (state.steps ? 'Rendering' + (state.target ? ' on ' + state.target : '') + ': step ' + state.step + ' of ' + state.steps : state.target ? 'Waiting for ' + state.target + '…' : 'Loading the model…')
    : state.status === 'cancelled' ? 'Render cancelled.'
    : state.status === 'error' ? 'Render failed: ' + state.error
    : record ? 'Rendered ' + new Date(record.date).toLocaleString() + '.' : 'No render yet.';
  const progress = $('progress');
  progress.hidden = state.status !== 'rendering';
  progress.value = state.steps ? state.step / state.steps : 0;
  $('latent').hidden = state.status !== 'rendering' || !state.hasPreview;
  const image = $('image');
  image.hidden = !record || !$('latent').hidden;
  if (record) {
    if (image.getAttribute('src') !== record.imageUri) image.src = record.imageUri;
    image.alt = 'Rendered image, seed ' + record.seed + ', ' + record.width + '×' + record.height;
  }
  for (const id of ['save', 'copyImage', 'copy', 'open']) $(id).disabled = !record;
  $('rerender').disabled = state.status === 'rendering';
  $('details').hidden = !record;
  if (record) {
    $('infotext').textContent = record.infotext;
    const facts = $('facts');
    facts.replaceChildren();
    const fact = (name, value) => {
      const dt = document.createElement('dt'); dt.textContent = name;
      const dd = document.createElement('dd'); dd.textContent = value;
      facts.append(dt, dd);
    };
    const backend = record.backend;
    if (backend) fact('Backend', (BACKEND_LABELS[backend.kind] ?? backend.kind) + ' (' + backend.kind + ') at ' + backend.server + (backend.model ? ', checkpoint ' + backend.model : ''));
    else fact('Device', record.device + (record.attempts.length ? ' (' + record.attempts.map((a) => a.device + ' unavailable: ' + a.error).join('; ') + ')' : ''));
    if (record.variant) fact('Variant', record.variant);
    fact('Seed', String(record.seed));
    fact('Steps', record.steps + ' of ' + record.sampler);
    fact('Size', record.width + '×' + record.height);
    if (record.notes && record.notes.length) fact('Notes', record.notes.join(' '));
    const t = record.timings;
    if (backend) fact('Time', fmt(backend.elapsedMs) + ' on the server, with the transfers');
    else fact('Timings', 'load ' + fmt(t.load) + ' · encode ' + fmt(t.encode) + ' · denoise ' + fmt(t.denoise) + ' · decode ' + fmt(t.decode));
    const loras = $('loras');
    loras.replaceChildren();
    const lines = loraLines(record, loraMergeSummary);
    for (const line of lines) {
      const li = document.createElement('li');
      li.textContent = line.text;
      if (line.warning) li.className = 'warning';
      if (line.unmatched.length) {
        const details = document.createElement('details');
        const summary = document.createElement('summary');
        summary.className = 'warning';
        summary.textContent = line.unmatched.length + ' key(s) matched nothing';
        const pre = document.createElement('pre');
        pre.textContent = line.unmatched.join('\\n');
        details.append(summary, pre);
        li.append(details);
      }
      loras.append(li);
    }
    $('lora-section').hidden = lines.length === 0;
  }
  const strip = $('history');
  strip.replaceChildren();
  $('history-section').hidden = state.history.length < 2;
  for (const r of state.history) {
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('role', 'option');
    b.setAttribute('aria-selected', String(r === record));
    b.tabIndex = r === record ? 0 : -1;
    b.title = 'Seed ' + r.seed + ', ' + new Date(r.date).toLocaleString();
    b.setAttribute('aria-label', b.title);
    const img = document.createElement('img');
    img.src = r.imageUri;
    img.alt = '';
    b.append(img);
    b.addEventListener('click', () => select(r.id, true));
    strip.append(b);
  }
}

function select(id, focus) {
  selectedId = id;
  vscode.setState({ selectedId, source: state.source });
  render();
  if (focus) $('history').querySelector('[aria-selected="true"]')?.focus();
}

$('history').addEventListener('keydown', (e) => {
  const index = state.history.findIndex((r) => r.id === (selectedId ?? state.history[0]?.id));
  const next = e.key === 'ArrowRight' ? index + 1 : e.key === 'ArrowLeft' ? index - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? state.history.length - 1 : undefined;
  if (next === undefined || next < 0 || next >= state.history.length) return;
  e.preventDefault();
  select(state.history[next].id, true);
});

const current = () => (state.history.find((r) => r.id === selectedId) ?? state.history[0])?.id;
for (const action of ['save', 'copy', 'open']) $(action).addEventListener('click', () => vscode.postMessage({ type: action, id: current() }));
$('rerender').addEventListener('click', () => vscode.postMessage({ type: 'rerender' }));
// The PNG itself onto the clipboard (VS Code's clipboard API takes text only, so the page does it).
$('copyImage').addEventListener('click', async () => {
  const id = current();
  try {
    const png = await (await fetch($('image').src)).blob();
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': png })]);
    vscode.postMessage({ type: 'copiedImage', id, bytes: png.size });
  } catch (e) {
    vscode.postMessage({ type: 'copyImageFailed', id, message: String(e && e.message || e) });
  }
});
// The finished image is on screen (the extension-host tests photograph the panel then).
// With the facts it shows beside it, one \`name: value\` a line (the tests read which backend ran).
$('image').addEventListener('load', () => {
  const facts = [...$('facts').children];
  const details = [];
  for (let i = 0; i + 1 < facts.length; i += 2) details.push(facts[i].textContent + ': ' + facts[i + 1].textContent);
  vscode.postMessage({ type: 'shown', id: current(), details: details.join('\\n') });
});

function drawPreview(p) {
  const canvas = $('latent');
  canvas.width = p.width;
  canvas.height = p.height;
  const rgb = Uint8Array.from(atob(p.rgb), (c) => c.charCodeAt(0));
  const image = canvas.getContext('2d').createImageData(p.width, p.height);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    image.data[j] = rgb[i]; image.data[j + 1] = rgb[i + 1]; image.data[j + 2] = rgb[i + 2]; image.data[j + 3] = 255;
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/** A server's preview frame (JPEG or PNG bytes): decoded by the browser, no URL to load, so the CSP stays as it is. */
let previewFrames = 0;
async function drawPreviewImage(p) {
  const frame = ++previewFrames;
  const bytes = Uint8Array.from(atob(p.data), (c) => c.charCodeAt(0));
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: p.mime }));
  } catch {
    return; // a frame the browser cannot decode: the next one, or the finished image, follows
  }
  if (frame !== previewFrames) return; // a newer frame arrived while this one decoded
  const canvas = $('latent');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  bitmap.close();
  state.hasPreview = true;
  render();
}

window.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'state') {
    const newest = m.state.history[0]?.id;
    // A new render is shown as it arrives; otherwise keep what the person selected.
    if (newest !== state.history[0]?.id || !m.state.history.some((r) => r.id === selectedId)) selectedId = newest;
    state = m.state;
    // What VS Code keeps for the panel across a window reload (previewPanel.ts restores from it).
    vscode.setState({ selectedId, source: state.source });
    render();
  } else if (m.type === 'preview') {
    drawPreview(m);
    state.hasPreview = true;
    render();
  } else if (m.type === 'previewImage') {
    void drawPreviewImage(m);
  }
});
selectedId = vscode.getState()?.selectedId;
vscode.postMessage({ type: 'ready' });
`;
