/**
 * The figures `bitspread report` charts, computed once in Node and embedded
 * in the page as JSON: the page draws exactly these numbers (and prints them
 * in a table under each chart), which is also what the browser test checks.
 */
import type { NodeRecord } from '../engine/record.js';
import { serviceNames } from '../wire/services.js';
import type { Store } from '../store/store.js';
import { timeline, uptimes } from '../store/history.js';

/** One chart: category labels and one series of counts (or two, for the timeline). */
export interface ChartData {
  readonly title: string;
  readonly kind: 'bar' | 'line' | 'doughnut';
  readonly labels: string[];
  readonly series: Array<{ readonly name: string; readonly values: number[] }>;
  /** Why a chart has no data (e.g. uptime needs a store), shown instead of it. */
  readonly note?: string;
}

export interface ReportData {
  readonly title: string;
  readonly generatedAt: string;
  readonly source: string;
  readonly totals: { readonly records: number; readonly reachable: number; readonly failed: number; readonly skipped: number };
  readonly charts: Record<string, ChartData>;
}

/** Latency histogram bucket upper bounds (ms); the last bucket is open. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000] as const;

function counted(values: Iterable<string>, top = Infinity): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  const sorted = [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (sorted.length <= top) return sorted;
  const rest = sorted.slice(top).reduce((n, [, c]) => n + c, 0);
  return [...sorted.slice(0, top), ['(others)', rest]];
}

function bar(title: string, pairs: Array<[string, number]>, name = 'nodes'): ChartData {
  return { title, kind: 'bar', labels: pairs.map(([k]) => k), series: [{ name, values: pairs.map(([, v]) => v) }] };
}

export function latencyHistogram(ms: readonly number[]): Array<[string, number]> {
  const labels: string[] = [];
  let lo = 0;
  for (const hi of LATENCY_BUCKETS_MS) {
    labels.push(`${lo}-${hi} ms`);
    lo = hi;
  }
  labels.push(`${lo}+ ms`);
  const counts = labels.map(() => 0);
  for (const v of ms) {
    const i = LATENCY_BUCKETS_MS.findIndex((hi) => v < hi);
    counts[i < 0 ? labels.length - 1 : i]!++;
  }
  return labels.map((l, i) => [l, counts[i] as number]);
}

/** Uptime histogram: ten 10 % buckets below 100 %, and exactly 100 %. */
export function uptimeHistogram(shares: readonly number[]): Array<[string, number]> {
  const labels = Array.from({ length: 10 }, (_, i) => `${i * 10}-${i * 10 + 10}%`);
  labels.push('100%');
  const counts = labels.map(() => 0);
  for (const s of shares) counts[s >= 1 ? 10 : Math.min(9, Math.floor(s * 10))]!++;
  return labels.map((l, i) => [l, counts[i] as number]);
}

export function buildReportData(records: readonly NodeRecord[], opts: { source: string; title?: string; store?: Store | null; now?: number }): ReportData {
  const reachable = records.filter((r) => r.state === 'reachable');
  const failed = records.filter((r) => r.state === 'failed');
  const now = opts.now ?? Date.now();
  const charts: Record<string, ChartData> = {};

  const store = opts.store ?? null;
  if (store !== null) {
    const points = timeline(store);
    charts.timeline = {
      title: 'Reachable nodes over time',
      kind: 'line',
      labels: points.map((p) => new Date(p.startedAt).toISOString().replace('.000Z', 'Z')),
      series: [
        { name: 'reachable', values: points.map((p) => p.reachable) },
        { name: 'failed', values: points.map((p) => p.failed) },
      ],
    };
  } else {
    const times = records.map((r) => (r.visitedAt === undefined ? NaN : Date.parse(r.visitedAt))).filter(Number.isFinite);
    charts.timeline = {
      title: 'Reachable nodes over time',
      kind: 'line',
      labels: [new Date(times.length > 0 ? Math.min(...times) : now).toISOString()],
      series: [
        { name: 'reachable', values: [reachable.length] },
        { name: 'failed', values: [failed.length] },
      ],
      note: 'One snapshot is one point: report from a store (--store) for history.',
    };
  }
  charts.networks = bar('Reachable nodes by network', counted(reachable.map((r) => r.network)));
  charts.userAgents = bar('User agents (top 15)', counted(reachable.map((r) => r.userAgent ?? ''), 15));
  charts.versions = bar('Protocol versions', counted(reachable.map((r) => String(r.protocolVersion ?? 0))));
  charts.services = bar(
    'Service bits of reachable nodes',
    counted(reachable.flatMap((r) => r.serviceNames ?? (r.services === undefined ? [] : serviceNames(r.services)))),
  );
  // How each node was reached (direct, socks5, sam) and over which wire transport (v1 unless a record says otherwise).
  charts.transport = bar('Transport', counted(reachable.map((r) => `${r.via ?? 'direct'} ${(r as { transport?: string }).transport ?? 'v1'}`)));
  const latencies = reachable.map((r) => r.rttMs ?? r.connectMs).filter((v): v is number => typeof v === 'number');
  charts.latency = { ...bar('Round-trip time (our version → theirs)', latencyHistogram(latencies)), kind: 'bar' };
  charts.failures = bar('Failure reasons', counted(failed.map((r) => (r.detail === undefined ? (r.error ?? 'unknown') : `${r.error}/${r.detail}`))), 'addresses');
  if (store !== null) {
    const shares = uptimes(store, now)
      .map((u) => u.uptime['24h'])
      .filter((x): x is number => x !== null);
    charts.uptime = bar('Uptime over 24 h (nodes visited in the last 24 h)', uptimeHistogram(shares));
  } else {
    charts.uptime = { title: 'Uptime over 24 h', kind: 'bar', labels: [], series: [{ name: 'nodes', values: [] }], note: 'Uptime needs visits over time: report from a store filled by bitspread watch.' };
  }
  return {
    title: opts.title ?? 'bitspread report',
    generatedAt: new Date(now).toISOString(),
    source: opts.source,
    totals: { records: records.length, reachable: reachable.length, failed: failed.length, skipped: records.length - reachable.length - failed.length },
    charts,
  };
}
