/**
 * Resolves DNS seed hostnames into peer addresses (A and AAAA records, the
 * network's default port). Only name resolution happens here: every address
 * still goes through the allow-list before any socket is opened.
 */
import { getServers } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { UsageError } from '../errors.js';
import type { AllowList } from '../shared/allow-list.js';

/** `127.0.0.1:5353` / `[::1]:53` / `127.0.0.1` → the form Resolver.setServers takes. */
export function parseDnsServer(text: string): string {
  const t = text.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(t) || /^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(t) || /^[0-9a-fA-F:]+$/.test(t)) return t;
  throw new UsageError('ERR_BAD_OPTION', `--dns-server: expected an IP address with an optional port, got '${text}'`);
}

/** The IP of a server in parseDnsServer / dns.getServers() form. */
function serverHost(server: string): string {
  if (server.startsWith('[')) return server.slice(1, server.indexOf(']'));
  if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(server)) return server.slice(0, server.lastIndexOf(':'));
  return server;
}

/**
 * The DNS servers the seeds may be resolved with. A DNS query is traffic
 * like any other, so the servers must be inside the allow-list (null = the
 * user's explicit --allow-any). Without `servers`, the system's resolvers are
 * used only if every one of them is allowed. Throws UsageError before any
 * query is sent.
 */
export function dnsServersFor(servers: readonly string[], allow: AllowList | null): string[] {
  const explicit = servers.length > 0;
  const list = explicit ? servers.map(parseDnsServer) : getServers();
  if (list.length === 0) throw new UsageError('ERR_BAD_OPTION', '--dns-seed: no DNS server configured; give --dns-server IP[:PORT]');
  if (allow === null) return list;
  const outside = list.filter((s) => !allow.allowsHost(serverHost(s)));
  if (outside.length === 0) return list;
  throw new UsageError(
    'ERR_BAD_OPTION',
    explicit
      ? `--dns-server ${outside.join(', ')} is outside the allow-list (${allow.toString()}): DNS queries are network traffic too`
      : `--dns-seed without --dns-server would query the system resolver(s) ${outside.join(', ')}, outside the allow-list (${allow.toString()}); give a --dns-server inside it (or --allow-any)`,
  );
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
  opts: { servers?: readonly string[]; /** null = --allow-any. */ allow: AllowList | null; timeoutMs?: number },
): Promise<DnsSeedResult> {
  const servers = dnsServersFor(opts.servers ?? [], opts.allow);
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: 2 });
  resolver.setServers(servers);
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
