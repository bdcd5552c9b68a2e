/**
 * bitspread report from a real crawl (watch rounds over a churning sim),
 * opened in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
 * no console errors, no request leaves the page, and every chart holds (and
 * its table prints) exactly the numbers of the crawl.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnIsUp, startSimNetwork, type SimNetwork } from '../src/sim/index.js';
import { Watcher } from '../src/engine/watch.js';
import { Store } from '../src/store/store.js';
import { crawlRecords } from '../src/store/history.js';
import type { ReportData } from '../src/report/data.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const ROUNDS = 3;

let sim: SimNetwork;
let dir: string;
let browser: Browser;
let file: string;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 70, seed: 41, baseAddress: '127.195.0.0', mix: { modern: 0.8, old: 0.1, refused: 0.05, silent: 0.05 }, churn: { downShare: 0.3, upgradeShare: 0.2 } });
  dir = mkdtempSync(join(tmpdir(), 'bitspread-report-'));
  const watcher = new Watcher({
    store: join(dir, 'h.db'),
    seeds: sim.seeds,
    network: 'regtest',
    only: ['127.0.0.0/8'],
    timeoutMs: 800,
    addrQuietMs: 30,
    workers: 1,
    intervalMs: 0,
    revisitFailedMs: 0,
    rounds: ROUNDS,
  });
  watcher.on('roundEnd', () => sim.churn!.advance());
  await watcher.start();
  file = join(dir, 'report.html');
  // A user agent a peer could send: it must come out as text, not markup.
  await run(process.execPath, [CLI, 'report', '--store', join(dir, 'h.db'), '--out', file, '--title', 'sim <b>report</b>']);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sim?.close();
});

function count<T extends string>(xs: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe('report in headless Chromium', () => {
  it('renders with no console error and fetches nothing', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== pathToFileURL(file).href) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const drawn = await page.evaluate(() => Object.keys((globalThis as unknown as { bitspreadCharts: Record<string, unknown> }).bitspreadCharts).sort());
    expect(drawn).toEqual(['failures', 'latency', 'networks', 'services', 'timeline', 'transport', 'uptime', 'userAgents', 'versions']);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.title()).toBe('sim <b>report</b>');
    expect(await page.locator('h1 b').count()).toBe(0);
    await page.close();
  });

  it('each chart holds, and its table prints, the numbers of the crawl', async () => {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const embedded = JSON.parse((await page.locator('#report-data').textContent()) as string) as ReportData;
    const inCharts = await page.evaluate(() => {
      const charts = (globalThis as unknown as { bitspreadCharts: Record<string, { data: { labels: string[]; datasets: Array<{ data: number[] }> }; getDatasetMeta(i: number): { data: unknown[] } }> }).bitspreadCharts;
      return Object.fromEntries(
        Object.entries(charts).map(([id, c]) => [id, { labels: c.data.labels, values: c.data.datasets.map((d) => d.data), elements: c.getDatasetMeta(0).data.length }]),
      );
    });
    for (const [id, c] of Object.entries(embedded.charts)) {
      expect({ id, labels: inCharts[id]?.labels, values: inCharts[id]?.values }).toEqual({ id, labels: c.labels, values: c.series.map((s) => s.values) });
      expect(inCharts[id]?.elements).toBe(c.labels.length); // one drawn bar / point per label
      const rows = await page.locator(`#table-${id} tr`).evaluateAll((trs) => trs.slice(1).map((tr) => Array.from((tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children, (td) => td.textContent)));
      expect(rows).toEqual(c.labels.map((l, i) => [l === '' ? '(empty)' : l, ...c.series.map((s) => String(s.values[i]))]));
    }

    // Independent of the report code: the numbers from the store and the churn truth.
    const store = Store.open(join(dir, 'h.db'), { readonly: true });
    const latest = [...crawlRecords(store, store.crawl('latest').id)];
    const reachable = latest.filter((r) => r.state === 'reachable');
    const truth = sim.truth();
    const schedules = sim.churn!.truth().nodes;
    const upIn = (epoch: number): number => truth.reachable.filter((r) => { const s = schedules.find((n) => n.addr === r.addr); return s === undefined || churnIsUp(s, epoch); }).length;
    expect(embedded.charts.timeline!.series[0]!.values).toEqual([0, 1, 2].map(upIn));
    expect(Object.fromEntries(embedded.charts.networks!.labels.map((l, i) => [l, embedded.charts.networks!.series[0]!.values[i]]))).toEqual({ ipv4: reachable.length });
    // Top 15 agents by count, the rest summed as '(others)'.
    const agents = count(reachable.map((r) => r.userAgent ?? ''));
    const ua = embedded.charts.userAgents!;
    ua.labels.forEach((l, i) => {
      if (l !== '(others)') expect([l, ua.series[0]!.values[i]]).toEqual([l, agents.get(l)]);
    });
    expect(ua.series[0]!.values.reduce((a, b) => a + b, 0)).toBe(reachable.length);
    expect(ua.labels.filter((l) => l !== '(others)')).toHaveLength(Math.min(15, agents.size));
    const failures = latest.filter((r) => r.state === 'failed');
    expect(embedded.charts.failures!.series[0]!.values.reduce((a, b) => a + b, 0)).toBe(failures.length);
    expect(embedded.charts.latency!.series[0]!.values.reduce((a, b) => a + b, 0)).toBe(reachable.length);
    // Uptime: every node visited in the window lands in exactly one bucket; flapping nodes below 100 %.
    const uptime = embedded.charts.uptime!;
    expect(uptime.series[0]!.values.reduce((a, b) => a + b, 0)).toBe(truth.reachable.length + truth.failed.filter((f) => f.behaviour === 'refused' || f.behaviour === 'silent').length);
    expect(uptime.series[0]!.values.slice(0, 10).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(await page.locator('#total-reachable').textContent()).toBe(String(reachable.length));
    store.close();
    await page.close();
  });

  it('reports from one snapshot file too, saying history and uptime need a store', async () => {
    const snap = join(dir, 'one.ndjson');
    const store = Store.open(join(dir, 'h.db'), { readonly: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(snap, [...crawlRecords(store, store.crawl('1').id)].map((r) => JSON.stringify(r)).join('\n') + '\n');
    store.close();
    const out = join(dir, 'one.html');
    await run(process.execPath, [CLI, 'report', snap, '--out', out]);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(out).href);
    expect(await page.locator('#section-uptime .note').textContent()).toMatch(/needs visits over time/);
    expect(errors).toEqual([]);
    const html = readFileSync(out, 'utf8');
    // Nothing to load: no external script/style/image, no source map.
    expect(/<(script|img|link|iframe)\b[^>]*\b(src|href)=/i.test(html)).toBe(false);
    expect(html.includes('sourceMappingURL')).toBe(false);
    await page.close();
  });
});
