/**
 * What changed between two crawls: nodes that joined (reachable in B, not in
 * A), left (reachable in A, not in B), and changed their protocol version,
 * user agent or service bits (reachable in both). Pure: works on records
 * from snapshot files and from the store alike.
 */
import type { NodeRecord } from '../engine/record.js';

export interface NodeChange {
  readonly addr: string;
  readonly field: 'protocolVersion' | 'userAgent' | 'services';
  readonly from: string | number;
  readonly to: string | number;
}

export interface CrawlDiff {
  readonly joined: NodeRecord[];
  readonly left: NodeRecord[];
  readonly changed: NodeChange[];
  /** Reachable in both, unchanged. */
  readonly unchanged: number;
  readonly reachableA: number;
  readonly reachableB: number;
}

function reachableByAddr(records: Iterable<NodeRecord>): Map<string, NodeRecord> {
  const out = new Map<string, NodeRecord>();
  for (const r of records) if (r.state === 'reachable') out.set(r.addr, r);
  return out;
}

export function diffCrawls(a: Iterable<NodeRecord>, b: Iterable<NodeRecord>): CrawlDiff {
  const before = reachableByAddr(a);
  const after = reachableByAddr(b);
  const joined: NodeRecord[] = [];
  const left: NodeRecord[] = [];
  const changed: NodeChange[] = [];
  let unchanged = 0;
  for (const [addr, rb] of after) {
    const ra = before.get(addr);
    if (ra === undefined) {
      joined.push(rb);
      continue;
    }
    let same = true;
    for (const field of ['protocolVersion', 'userAgent', 'services'] as const) {
      const from = ra[field];
      const to = rb[field];
      if (from !== undefined && to !== undefined && from !== to) {
        changed.push({ addr, field, from, to });
        same = false;
      }
    }
    if (same) unchanged++;
  }
  for (const [addr, ra] of before) if (!after.has(addr)) left.push(ra);
  const byAddr = (x: { addr: string }, y: { addr: string }): number => (x.addr < y.addr ? -1 : x.addr > y.addr ? 1 : 0);
  joined.sort(byAddr);
  left.sort(byAddr);
  changed.sort(byAddr);
  return { joined, left, changed, unchanged, reachableA: before.size, reachableB: after.size };
}

/** The text `bitspread diff` prints: one line per change, then a count line. */
export function formatDiff(d: CrawlDiff): string {
  const lines: string[] = [];
  for (const r of d.joined) lines.push(`+ ${r.addr}  joined  ${JSON.stringify(r.userAgent ?? '')} ${r.protocolVersion ?? ''}`.trimEnd());
  for (const r of d.left) lines.push(`- ${r.addr}  left    ${JSON.stringify(r.userAgent ?? '')} ${r.protocolVersion ?? ''}`.trimEnd());
  for (const c of d.changed) lines.push(`~ ${c.addr}  ${c.field}  ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`);
  lines.push(
    `reachable ${d.reachableA} -> ${d.reachableB}: ${d.joined.length} joined, ${d.left.length} left, ` +
      `${new Set(d.changed.map((c) => c.addr)).size} changed, ${d.unchanged} unchanged`,
  );
  return lines.join('\n');
}
