import { randomBytes } from 'crypto';
import type { GridPlan } from '../../../server/src/render/api';

/**
 * The X/Y/Z plot panel's page: the grid laid out as A1111 lays it (X labels above, Y labels to the left, one
 * table per Z value under its label), each cell a button that fills in as its render finishes. A strict CSP:
 * script and style only with this page's nonce, images only as the data: URLs the panel posts.
 */
export function gridHtml(plan: GridPlan, title: string, target: string): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = ["default-src 'none'", 'img-src data:', `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
  const xLabels = plan.x.labels;
  const yLabels = plan.y?.labels ?? [undefined];
  const zLabels = plan.z?.labels ?? [undefined];
  const indexOf = new Map(plan.cells.map((c, i) => [`${c.x},${c.y},${c.z}`, i]));
  const tables = zLabels
    .map((zLabel, z) => {
      const head = `<tr><th></th>${xLabels.map((l) => `<th scope="col">${escapeHtml(l)}</th>`).join('')}</tr>`;
      const rows = yLabels
        .map((yLabel, y) => {
          const cells = xLabels
            .map((_, x) => {
              const i = indexOf.get(`${x},${y},${z}`);
              if (i === undefined) return '<td></td>';
              // Named by its labels, for screen readers (and the extension-host tests' clicks).
              const name = [xLabels[x], yLabel, zLabel].filter((l) => l !== undefined).join(', ');
              return `<td><button class="cell waiting" id="cell-${i}" data-index="${i}" aria-label="${escapeHtml(name)}" title="Open this cell's prompt">waiting</button></td>`;
            })
            .join('');
          return `<tr><th scope="row">${yLabel === undefined ? '' : escapeHtml(yLabel)}</th>${cells}</tr>`;
        })
        .join('');
      return `${zLabel === undefined ? '' : `<h2>${escapeHtml(zLabel)}</h2>`}<table>${head}${rows}</table>`;
    })
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <span id="status" role="status">Rendering ${plan.cells.length} cells on ${escapeHtml(target)}…</span>
  <button id="cancel">Cancel</button>
  <button id="open-grid" hidden>Open Grid Image</button>
</header>
${tables}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 8px; }
header { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
#status { flex: 1; }
button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: none; padding: 4px 10px; cursor: pointer; }
table { border-collapse: collapse; margin-bottom: 16px; }
th { font-weight: normal; padding: 4px; text-align: center; max-width: 256px; }
th[scope=row] { text-align: right; }
td { padding: 2px; }
button.cell { width: 160px; height: 160px; padding: 0; background: var(--vscode-editorWidget-background); color: var(--vscode-descriptionForeground); }
button.cell img { max-width: 100%; max-height: 100%; display: block; margin: auto; }
button.cell.failed { color: var(--vscode-errorForeground); font-size: 0.85em; overflow: hidden; }
button.cell.rendering { outline: 1px solid var(--vscode-focusBorder); }
`;

/** Draws what gridPanel.ts posts; a click on a cell asks for its prompt. */
const SCRIPT = `
const vscode = acquireVsCodeApi();
const status = document.getElementById('status');
document.getElementById('cancel').addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
document.getElementById('open-grid').addEventListener('click', () => vscode.postMessage({ type: 'openGrid' }));
for (const b of document.querySelectorAll('button.cell')) b.addEventListener('click', () => vscode.postMessage({ type: 'openCell', index: Number(b.dataset.index) }));
window.addEventListener('message', (event) => {
  const m = event.data;
  const cell = typeof m.index === 'number' ? document.getElementById('cell-' + m.index) : null;
  if (m.type === 'progress' && cell) {
    cell.className = 'cell rendering';
    cell.textContent = 'step ' + m.step + ' of ' + m.steps;
  } else if (m.type === 'cell' && cell) {
    cell.textContent = '';
    if (m.image) {
      cell.className = 'cell done';
      const img = document.createElement('img');
      img.src = m.image;
      img.alt = m.label;
      cell.appendChild(img);
    } else {
      cell.className = 'cell failed';
      cell.textContent = m.error;
    }
    cell.title = m.label + ' — open this cell\\'s prompt';
  } else if (m.type === 'finished') {
    status.textContent = m.summary;
    document.getElementById('cancel').hidden = true;
    document.getElementById('open-grid').hidden = !m.gridSaved;
    for (const c of document.querySelectorAll('button.cell.waiting, button.cell.rendering')) { c.className = 'cell missing'; c.textContent = 'not rendered'; }
  }
});
`;
