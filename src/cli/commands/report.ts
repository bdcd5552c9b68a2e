/**
 * `bitspread report`: one self-contained HTML file with charts of a crawl
 * (and, from a store, of its history).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { Store } from '../../store/store.js';
import { loadRecords } from '../../store/sources.js';
import { buildReportData } from '../../report/data.js';
import { renderReport } from '../../report/html.js';
import { usageFailure } from '../usage.js';

const HELP = `usage: bitspread report (SNAPSHOT | --store FILE [--crawl REF]) --out FILE.html [--title TEXT]

  One HTML file, nothing fetched when opened (the chart library is inside):
  reachable nodes over time, networks, user agents, protocol versions,
  service bits, transport, round-trip times, failure reasons, uptime.
  SNAPSHOT      an NDJSON snapshot file (one crawl; no history, no uptime)
  --store FILE  a store: the charts of one crawl (--crawl, default latest),
                the history of all of them, and uptime
  --out FILE    where to write the report (REQUIRED)
`;

export async function run(argv: string[]): Promise<number> {
  let v: { store?: string; crawl?: string; out?: string; title?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { store: { type: 'string' }, crawl: { type: 'string' }, out: { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
    if (v.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (v.out === undefined) throw new UsageError('ERR_BAD_OPTION', '--out FILE is required');
    if ((v.store === undefined) === (positionals.length === 0) || positionals.length > 1) throw new UsageError('ERR_BAD_ARGUMENT', 'give one snapshot file or --store FILE');
    if (v.crawl !== undefined && v.store === undefined) throw new UsageError('ERR_BAD_OPTION', '--crawl needs --store');
  } catch (err) {
    return usageFailure('report', (err as Error).message, HELP);
  }
  const store = v.store === undefined ? null : Store.open(v.store, { readonly: true });
  try {
    const { label, records } = await loadRecords(store === null ? (positionals[0] as string) : (v.crawl ?? 'latest'), store);
    const data = buildReportData(records, { source: store === null ? label : `${store.path}: ${label}`, store, ...(v.title === undefined ? {} : { title: v.title }) });
    writeFileSync(v.out, renderReport(data));
    process.stderr.write(`report: ${v.out} (${data.totals.records} records, ${data.totals.reachable} reachable)\n`);
  } finally {
    store?.close();
  }
  return 0;
}
