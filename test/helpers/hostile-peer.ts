/**
 * A scriptable hostile peer on loopback: a listener whose every reply is
 * written by the test (`onMessage`), so a test can send messages out of
 * order, flood addresses, or lie about its networks. Every message each
 * connection receives is recorded (decoded by our codec), so a test can also
 * check exactly what the crawler sent.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { encodeMessage, makeVersion, MessageDecoder, NETWORKS, parseAddress } from '../../src/wire/index.js';
import type { AddrEntry, Message, NetworkParams } from '../../src/wire/index.js';

export interface HostileConn {
  readonly socket: Socket;
  /** Messages received on this connection, in order. */
  readonly received: Message[];
  /** Our local address as the crawler dialled it ("127.0.0.5:18444"). */
  readonly local: string;
  /** True after the crawler sent sendaddrv2. */
  wantsV2: boolean;
  send(msg: Message): void;
  sendRaw(bytes: Uint8Array): void;
}

export interface HostilePeerOptions {
  /** Listen address (127.x or ::1); `0.0.0.0`-style wildcards are refused (loopback only). */
  host: string;
  port?: number;
  network?: NetworkParams;
  onConnect?(conn: HostileConn): void;
  onMessage?(msg: Message, conn: HostileConn): void;
}

export interface HostilePeer {
  readonly port: number;
  readonly address: string;
  readonly conns: HostileConn[];
  /** Connections open right now. */
  open(): number;
  close(): Promise<void>;
}

/** An addr entry for a text address, seen an hour ago, NODE_NETWORK|WITNESS|NETWORK_LIMITED. */
export function addrEntry(text: string, services = 1033n): AddrEntry {
  return { time: Math.floor(Date.now() / 1000) - 3600, services, address: parseAddress(text), networkId: 0 };
}

/** A modern Core-like version message. */
export function versionMessage(userAgent = '/Satoshi:27.0.0/'): Message {
  return { command: 'version', payload: makeVersion({ version: 70016, services: 1033n, userAgent, startHeight: 100, relay: true }) };
}

/** The usual honest answer to the crawler's version: version, wtxidrelay, sendaddrv2, verack. */
export function answerVersion(conn: HostileConn, userAgent?: string): void {
  conn.send(versionMessage(userAgent));
  conn.send({ command: 'wtxidrelay' });
  conn.send({ command: 'sendaddrv2' });
  conn.send({ command: 'verack' });
}

export async function startHostilePeer(opts: HostilePeerOptions): Promise<HostilePeer> {
  if (!opts.host.startsWith('127.') && opts.host !== '::1') throw new Error(`hostile peer must listen on loopback, not ${opts.host}`);
  const net = opts.network ?? NETWORKS.regtest;
  const conns: HostileConn[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const host = socket.localAddress ?? opts.host;
    const conn: HostileConn = {
      socket,
      received: [],
      local: host.includes(':') ? `[${host}]:${socket.localPort}` : `${host}:${socket.localPort}`,
      wantsV2: false,
      send: (msg) => {
        if (!socket.destroyed) socket.write(encodeMessage(net, msg));
      },
      sendRaw: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
    };
    conns.push(conn);
    const decoder = new MessageDecoder(net, {
      onMessage(msg: Message): void {
        conn.received.push(msg);
        if (msg.command === 'sendaddrv2') conn.wantsV2 = true;
        opts.onMessage?.(msg, conn);
      },
      onMessageError(): void {},
    });
    socket.on('data', (c: Buffer) => decoder.push(c));
    opts.onConnect?.(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: opts.host.includes(':') ? `[${opts.host}]:${port}` : `${opts.host}:${port}`,
    conns,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `cond` every 5 ms until it holds; fails after `ms` with `what`. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
