/**
 * What the simulator's proxy fronts (SOCKS5, SAM) share: joining a client to
 * the node it asked for, and listening on loopback.
 */
import type { Server, Socket } from 'node:net';

/** Lines the fronts keep in their stats logs (requests, credentials, commands) by default: the first this many; later ones are only counted. */
export const FRONT_LOG_LIMIT = 10_000;

/** A log that keeps its first `limit` entries and counts them all: a front serving a long crawl stays bounded. */
export class BoundedLog {
  readonly entries: string[] = [];
  total = 0;
  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`log limit must be a whole number >= 0, got ${limit}`);
  }
  push(line: string): void {
    this.total++;
    if (this.entries.length < this.limit) this.entries.push(line);
  }
}

/**
 * Joins `client` and `upstream` both ways until either closes; `onEnd` runs
 * once, when the first does. A reset on one side is passed on as a reset: a
 * node that never reads (the sim's 'silent') sees a reset at once, but would
 * never see a FIN. The front writes its success reply (and any bytes the
 * client sent early) before calling this.
 */
export function relay(client: Socket, upstream: Socket, onEnd: () => void): void {
  let counted = true;
  const done = (from: Socket, hadError: boolean): void => {
    if (!counted) return;
    counted = false;
    onEnd();
    const other = from === client ? upstream : client;
    if (hadError && !other.destroyed) other.resetAndDestroy();
    else other.destroy();
    from.destroy();
  };
  client.once('close', (hadError: boolean) => done(client, hadError));
  upstream.once('close', (hadError: boolean) => done(upstream, hadError));
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}

/** Listens on `host` (default 127.0.0.1) and `port` (default: any free one); the front's `host:port`. */
export async function listenFront(server: Server, opts: { host?: string; port?: number }): Promise<{ address: string; port: number }> {
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return { address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, port };
}

/** Stops a front: its pending delays, every socket it holds (clients and upstreams), then the listener. */
export async function closeFront(server: Server, sockets: Iterable<Socket>, timers: Iterable<NodeJS.Timeout>): Promise<void> {
  for (const t of timers) clearTimeout(t);
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
}
