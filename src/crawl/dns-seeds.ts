/**
 * Resolves DNS seed hostnames into peer addresses (A and AAAA records, the
 * network's default port). Only name resolution happens here: every address
 * still goes through the allow-list before any socket is opened.
 */
import { Resolver } from 'node:dns/promises';
import { UsageError } from '../errors.js';

/** `127.0.0.1:5353` / `[::1]:53` / `127.0.0.1` → the form Resolver.setServers takes. */
export function parseDnsServer(text: string): string {
  const t = text.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(t) || /^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(t) || /^[0-9a-fA-F:]+$/.test(t)) return t;
  throw new UsageError('ERR_BAD_OPTION', `--dns-server: expected an IP address with an optional port, got '${text}'`);
}

/** Core text form of an IP and port. */
function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface DnsSeedResult {
  readonly addresses: string[];
  /** Per hostname: the error code when it did not resolve. */
  readonly failures: Array<{ host: string; code: string }>;
}

export async function resolveDnsSeeds(
  hosts: readonly string[],
  port: number,
  opts: { servers?: readonly string[]; timeoutMs?: number } = {},
): Promise<DnsSeedResult> {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: 2 });
  if (opts.servers !== undefined && opts.servers.length > 0) resolver.setServers(opts.servers.map(parseDnsServer));
  const addresses: string[] = [];
  const failures: Array<{ host: string; code: string }> = [];
  await Promise.all(
    hosts.map(async (raw) => {
      const host = raw.endsWith('.') ? raw.slice(0, -1) : raw;
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      let any = false;
      for (const r of [v4, v6]) {
        if (r.status === 'fulfilled') {
          any ||= r.value.length > 0;
          for (const ip of r.value) addresses.push(endpoint(ip, port));
        }
      }
      if (!any) {
        const reason = v4.status === 'rejected' ? (v4.reason as NodeJS.ErrnoException) : null;
        failures.push({ host, code: reason?.code ?? 'ENODATA' });
      }
    }),
  );
  resolver.cancel();
  return { addresses, failures };
}
