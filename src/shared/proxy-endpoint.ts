/**
 * `host:port` of a SOCKS5 proxy or SAM bridge, as the user gives it
 * (`127.0.0.1:9050`, `[::1]:7656`). Only IP literals: a proxy given by name
 * would need a DNS lookup outside the allow-list's sight.
 */
import { UsageError } from '../errors.js';

export interface ProxyEndpoint {
  readonly host: string;
  readonly port: number;
  /** Canonical `host:port` / `[v6]:port`: what records name as `proxy`. */
  readonly text: string;
}

export function parseProxyEndpoint(text: string, flag = '--tor-proxy'): ProxyEndpoint {
  const t = typeof text === 'string' ? text.trim() : '';
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(t) ?? /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t);
  const port = m === null ? 0 : Number(m[2]);
  if (m === null || port < 1 || port > 65535) {
    throw new UsageError('ERR_BAD_OPTION', `${flag}: expected an IP address and port (127.0.0.1:9050, [::1]:9050), got '${String(text)}'`);
  }
  const host = m[1] as string;
  return { host, port, text: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}
