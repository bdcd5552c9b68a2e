/**
 * The report page: one HTML file with Chart.js (its UMD build, read from
 * node_modules when the report is made) and the data inlined. A Content
 * Security Policy of `default-src 'none'` makes sure opening it fetches
 * nothing. Every chart has a table of its numbers under it (readable without
 * JavaScript, and by screen readers); the charts are also reachable from
 * `window.bitspreadCharts` for tests.
 *
 * Peers choose their user agents: every string from the data is escaped in
 * the HTML, and the JSON is written with `<` as \u003c so no `</script>` can
 * end the data block.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ChartData, ReportData } from './data.js';

let chartJs: string | null = null;

/** Chart.js's UMD bundle, minus its source map comment (nothing may be fetched). */
function chartLibrary(): string {
  if (chartJs === null) {
    const main = createRequire(import.meta.url).resolve('chart.js');
    const text = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
    chartJs = text.replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
  }
  return chartJs;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c] as string);
}

function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function table(id: string, c: ChartData): string {
  const head = `<tr><th scope="col">${c.kind === 'line' ? 'time' : 'value'}</th>${c.series.map((s) => `<th scope="col">${escapeHtml(s.name)}</th>`).join('')}</tr>`;
  const rows = c.labels.map((label, i) => `<tr><td>${escapeHtml(label === '' ? '(empty)' : label)}</td>${c.series.map((s) => `<td>${s.values[i] ?? 0}</td>`).join('')}</tr>`);
  return `<details><summary>numbers</summary><table id="table-${id}">${head}${rows.join('')}</table></details>`;
}

function section(id: string, c: ChartData): string {
  const body = c.labels.length === 0 ? '' : `<div class="chart"><canvas id="chart-${id}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div>${table(id, c)}`;
  const note = c.note === undefined ? '' : `<p class="note">${escapeHtml(c.note)}</p>`;
  return `<section id="section-${id}"><h2>${escapeHtml(c.title)}</h2>${note}${body}</section>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2733;background:#f7f8fa}
h1{font-size:22px;margin:0 0 4px}.meta{color:#5b6776;margin:0 0 16px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px}
section#section-timeline{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}.chart{position:relative;height:260px}
.note{color:#5b6776;font-style:italic}table{border-collapse:collapse;margin-top:6px}
td,th{border:1px solid #dde2e8;padding:2px 8px;text-align:left}td+td{text-align:right}
.totals span{margin-right:16px}`;

/** Draws every chart from the embedded data (runs in the browser). */
const DRAW = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#2f6fde', '#e0533d', '#2fa36b', '#c9a227', '#8a4fd8', '#1aa3b8', '#d6518f', '#6b7a8c'];
  var charts = {};
  Object.keys(data.charts).forEach(function (id) {
    var c = data.charts[id];
    var canvas = document.getElementById('chart-' + id);
    if (!canvas) return;
    charts[id] = new Chart(canvas, {
      type: c.kind,
      data: {
        labels: c.labels,
        datasets: c.series.map(function (s, i) {
          return { label: s.name, data: s.values, backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length], tension: 0.2 };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: c.kind === 'bar' && c.labels.length > 8 ? 'y' : 'x',
        plugins: { legend: { display: c.series.length > 1 } },
        scales: c.kind === 'doughnut' ? {} : { x: { ticks: { autoSkip: true } }, y: { ticks: { autoSkip: false } } }
      }
    });
  });
  window.bitspreadCharts = charts;
})();`;

export function renderReport(d: ReportData): string {
  const order = ['timeline', 'networks', 'userAgents', 'versions', 'services', 'transport', 'latency', 'failures', 'uptime'];
  const ids = [...order.filter((k) => k in d.charts), ...Object.keys(d.charts).filter((k) => !order.includes(k))];
  const t = d.totals;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(d.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(d.title)}</h1>
<p class="meta">${escapeHtml(d.source)} · generated ${escapeHtml(d.generatedAt)}</p>
<p class="totals"><span>records <b id="total-records">${t.records}</b></span><span>reachable <b id="total-reachable">${t.reachable}</b></span><span>failed <b id="total-failed">${t.failed}</b></span><span>skipped <b id="total-skipped">${t.skipped}</b></span></p>
<main>
${ids.map((id) => section(id, d.charts[id] as ChartData)).join('\n')}
</main>
<script id="report-data" type="application/json">${safeJson(d)}</script>
<script>${chartLibrary()}</script>
<script>${DRAW}</script>
</body>
</html>
`;
}
