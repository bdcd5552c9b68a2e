/**
 * Prometheus metrics of a real crawl over the sim: scraped over HTTP while
 * it runs (per-worker figures come from the worker threads) and after it
 * ends (counters equal the crawl's summary), each scrape accepted by
 * Debian's `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { CrawlSummary } from '../src/engine/record.js';
import { CrawlMetrics, parseListenAddress } from '../src/metrics/metrics.js';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';

let sim: SimNetwork;
let metrics: CrawlMetrics;
let url: string;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 150, seed: 51, baseAddress: '127.197.0.0', latency: { medianMs: 20, tailMs: 60 } });
  metrics = new CrawlMetrics();
  const at = await metrics.serve('127.0.0.1', 0);
  url = `http://127.0.0.1:${at.port}/metrics`;
});

afterAll(async () => {
  await metrics.close();
  await sim.close();
});

function scrape(path = url): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(path, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Value of one sample line, e.g. value(body, 'bitspread_visits_total{outcome="reachable",network="ipv4"}'). */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  it('serves valid Prometheus text while a crawl runs, with figures from each worker thread, and exact counters after', async () => {
    const crawler = new Crawler({ seeds: sim.seeds, network: 'regtest', only: ['127.0.0.0/8'], timeoutMs: 1500, addrQuietMs: 30, workers: 2, maxPeers: 8 });
    metrics.attach(crawler);
    let seen = 0;
    const midway = new Promise<void>((resolve) => crawler.on('node', () => ++seen === 30 && resolve()));
    const done: Promise<CrawlSummary> = crawler.start();
    await midway;
    const during = await scrape();
    expect(during.status).toBe(200);
    expect(during.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const lint = promtool(during.body);
    expect(lint, lint.out).toMatchObject({ status: 0 });
    // Both worker threads answered with their own counters.
    expect(value(during.body, 'bitspread_worker_scrape_ok')).toBe(1);
    const dialled = during.body.split('\n').filter((l) => l.startsWith('bitspread_worker_dialled{'));
    expect(dialled, during.body.split('\n').filter((l) => l.startsWith('bitspread_worker')).join('\n')).toHaveLength(2);
    for (const l of dialled) expect(Number(l.split(' ')[1])).toBeGreaterThan(0);
    expect(value(during.body, 'bitspread_known_addresses')).toBeGreaterThan(0);
    expect(value(during.body, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(during.body).toMatch(/^bitspread_worker_heap_used_bytes\{worker="0"\} \d+/m);

    const summary = await done;
    const after = await scrape();
    expect(promtool(after.body).status).toBe(0);
    for (const state of ['reachable', 'failed', 'skipped'] as const) {
      const total = ['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns'].reduce((n, net) => n + (value(after.body, `bitspread_visits_total{outcome="${state}",network="${net}"}`) ?? 0), 0);
      expect([state, total]).toEqual([state, summary.byState[state]]);
    }
    for (const [code, n] of Object.entries(summary.byError)) expect(value(after.body, `bitspread_failures_total{code="${code}"}`)).toBe(n);
    expect(value(after.body, 'bitspread_rounds_total')).toBe(1);
    expect(value(after.body, 'bitspread_known_addresses')).toBe(crawler.stats().known);
    expect(value(after.body, 'bitspread_worker_crashes_total')).toBe(0);
  });

  it('answers 404 off /metrics and parses listen addresses strictly', async () => {
    expect((await scrape(url.replace('/metrics', '/'))).status).toBe(404);
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListenAddress('9464')).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
  });
});
