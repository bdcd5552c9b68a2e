/**
 * `bitspread uptime`: each node's uptime over bitnodes' windows (2 h, 8 h,
 * 24 h, 7 d, 30 d), from a store a watch filled.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { Store } from '../../store/store.js';
import { UPTIME_WINDOWS, uptimes } from '../../store/history.js';
import { usageFailure } from '../usage.js';

const HELP = `usage: bitspread uptime --store FILE [--json] [--addr ADDR...]

  Per node: the share of its visits in each window that found it reachable
  ("-" when not visited in that window), visits in 30 d, reachable since.
  --json   one JSON object per line
  --addr   only these nodes (repeatable)
`;

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);

export async function run(argv: string[]): Promise<number> {
  let v: { store?: string; json?: boolean; addr?: string[]; help?: boolean };
  try {
    ({ values: v } = parseArgs({
      args: argv,
      strict: true,
      options: { store: { type: 'string' }, json: { type: 'boolean' }, addr: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    }));
    if (v.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (v.store === undefined) throw new UsageError('ERR_BAD_OPTION', '--store FILE is required');
  } catch (err) {
    return usageFailure('uptime', (err as Error).message, HELP);
  }
  const store = Store.open(v.store, { readonly: true });
  try {
    const rows = uptimes(store, Date.now(), v.addr);
    if (v.json === true) {
      for (const r of rows) process.stdout.write(JSON.stringify({ ...r, reachableSince: r.reachableSince === null ? null : new Date(r.reachableSince).toISOString() }) + '\n');
      return 0;
    }
    const names = UPTIME_WINDOWS.map(([n]) => n);
    const width = Math.max(4, ...rows.map((r) => r.addr.length));
    process.stdout.write(`${'node'.padEnd(width)}  ${names.map((n) => n.padStart(6)).join(' ')}  visits  reachable since            user agent\n`);
    for (const r of rows) {
      const since = r.reachableSince === null ? '-'.padEnd(24) : new Date(r.reachableSince).toISOString();
      process.stdout.write(`${r.addr.padEnd(width)}  ${names.map((n) => pct(r.uptime[n]).padStart(6)).join(' ')}  ${String(r.visits).padStart(6)}  ${since}   ${r.userAgent ?? ''}\n`);
    }
  } finally {
    store.close();
  }
  return 0;
}
