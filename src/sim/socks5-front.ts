/**
 * The simulated network's SOCKS5 front: a Tor SocksPort stand-in on
 * loopback. It resolves the sim's Tor v3 names (and CJDNS addresses) to the
 * hidden 127.x address of the node behind them, waits a Tor-like delay,
 * connects and relays bytes. It answers as Tor does, extended errors
 * included (ExtendedErrors: 0xF0-0xF7), and can be told to fail given
 * destinations with any reply code.
 *
 * Written here rather than taken from a library: a SOCKS5 server library
 * would not produce Tor's extended replies, which are what the crawler's
 * error mapping must be tested against.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { BoundedLog, FRONT_LOG_LIMIT, closeFront, listenFront, relay } from './relay.js';
import type { AddressNetwork } from '../wire/types.js';
import { parseAddress } from '../wire/index.js';
import { formatIpv6 } from '../shared/allow-list.js';

/** The part of a SimNetwork the front needs. */
export interface OverlayResolver {
  overlayTarget(host: string): OverlayTarget | undefined;
  /** The wait before failing a `network` address nobody serves; undefined: the front's own delay. */
  overlayFailDelay?(network: AddressNetwork): number | undefined;
}

export interface OverlayTarget {
  readonly host: string;
  readonly port: number;
  readonly network: AddressNetwork;
  readonly addr: string;
  /** This node's own connect delay through the front (the sim's gossip.overlay), instead of the front's delayMs draw. */
  readonly connectDelayMs?: number;
}

export interface SocksFrontOptions {
  /** Default 127.0.0.1; port 0 (any free one) by default. */
  readonly host?: string;
  readonly port?: number;
  /** Delay before a CONNECT is answered, per destination network: a fixed ms or [min, max]. Default onion [5, 40], others 0. */
  readonly delayMs?: Partial<Record<AddressNetwork, number | readonly [number, number]>>;
  /** Destination host (lowercase, no port) → the reply code to send instead of connecting (0x01-0x08, 0xF0-0xF7). */
  readonly failures?: Readonly<Record<string, number>>;
  /** Relay IPv4/IPv6 literals inside 127.0.0.0/8 and ::1 as a plain proxy would. Default false (reply 0x02). */
  readonly relayLoopback?: boolean;
  /** Offer only username/password (as a proxy with IsolateSOCKSAuth and auth required). Default: accept either. */
  readonly requireAuth?: boolean;
  /** Requests and credentials kept in stats() (the first N; all are counted). Default FRONT_LOG_LIMIT (10,000). */
  readonly logLimit?: number;
}

export interface SocksFrontStats {
  /** Client connections accepted. */
  readonly accepted: number;
  /** CONNECT requests, as `host:port` (the first logLimit). */
  readonly requests: string[];
  /** Every CONNECT request, counted. */
  readonly requestCount: number;
  /** `user:pass` of every authenticated connection (stream isolation shows as all distinct). */
  readonly credentials: string[];
  /** Tunnels open now / at most at once, per destination network. */
  readonly open: Record<AddressNetwork, number>;
  readonly peak: Record<AddressNetwork, number>;
}

export interface SocksFront {
  /** `127.0.0.1:port`: what --tor-proxy takes. */
  readonly address: string;
  readonly port: number;
  stats(): SocksFrontStats;
  close(): Promise<void>;
}

const zero = (): Record<AddressNetwork, number> => ({ ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 });

export async function startSocksFront(sim: OverlayResolver, opts: SocksFrontOptions = {}): Promise<SocksFront> {
  const limit = opts.logLimit ?? FRONT_LOG_LIMIT;
  const state = { accepted: 0, requests: new BoundedLog(limit), credentials: new BoundedLog(limit), open: zero(), peak: zero() };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const delays = { onion: [5, 40] as const, ...(opts.delayMs ?? {}) };

  // allowHalfOpen: a client's FIN goes on to the node (pipe), and the client gets
  // the node's FIN only once the node has closed: a peer that waits for our FIN
  // before reusing its slot (as the crawler does) never overlaps the node's close.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    state.accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'done' = 'greeting';
    const reply = (rep: number): void => {
      client.end(Buffer.from([0x05, rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buf.length < 2 || buf.length < 2 + (buf[1] as number)) return;
          if (buf[0] !== 0x05) return void client.destroy();
          const methods = [...buf.subarray(2, 2 + (buf[1] as number))];
          buf = buf.subarray(2 + (buf[1] as number));
          const method = methods.includes(0x02) ? 0x02 : !opts.requireAuth && methods.includes(0x00) ? 0x00 : 0xff;
          client.write(Buffer.from([0x05, method]));
          if (method === 0xff) return void client.end();
          stage = method === 0x02 ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buf.length < 2) return;
          const ulen = buf[1] as number;
          if (buf.length < 3 + ulen) return;
          const plen = buf[2 + ulen] as number;
          if (buf.length < 3 + ulen + plen) return;
          state.credentials.push(`${buf.subarray(2, 2 + ulen).toString('latin1')}:${buf.subarray(3 + ulen, 3 + ulen + plen).toString('latin1')}`);
          buf = buf.subarray(3 + ulen + plen);
          client.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
        } else if (stage === 'request') {
          if (buf.length < 5) return;
          const atyp = buf[3] as number;
          const addrLen = atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : atyp === 0x03 ? 1 + (buf[4] as number) : -1;
          if (addrLen < 0) return reply(0x08);
          if (buf.length < 4 + addrLen + 2) return;
          const raw = buf.subarray(4, 4 + addrLen);
          const host = atyp === 0x01 ? [...raw].join('.') : atyp === 0x04 ? formatIpv6(raw) : raw.subarray(1).toString('latin1').toLowerCase();
          const port = buf.readUInt16BE(4 + addrLen);
          const rest = buf.subarray(4 + addrLen + 2);
          stage = 'done';
          client.off('data', onData);
          client.pause();
          if (buf[1] !== 0x01) return reply(0x07);
          return request(client, host, port, rest, reply);
        } else {
          return;
        }
      }
    };
    client.on('data', onData);
  });

  function request(client: Socket, host: string, port: number, early: Buffer, reply: (rep: number) => void): void {
    state.requests.push(`${host}:${port}`);
    const failure = opts.failures?.[host];
    let target: { host: string; port: number; network: AddressNetwork; connectDelayMs?: number } | undefined;
    let rep = 0;
    if (host.endsWith('.onion')) {
      let valid = true;
      try {
        parseAddress(`${host}:${port}`);
      } catch {
        valid = false;
      }
      target = valid ? sim.overlayTarget(host) : undefined;
      rep = valid ? 0xf0 : 0xf6; // descriptor not found / invalid onion address
    } else if (/^fc[0-9a-f]{0,2}:/.test(host)) {
      target = sim.overlayTarget(host);
      rep = 0x04;
    } else if (opts.relayLoopback === true && (host.startsWith('127.') || host === '::1')) {
      target = { host, port, network: host === '::1' ? 'ipv6' : 'ipv4' };
    } else {
      rep = 0x02;
    }
    const network: AddressNetwork = target?.network ?? (host.endsWith('.onion') ? 'onion' : 'ipv4');
    const d = delays[network] ?? 0;
    const wait =
      target?.connectDelayMs ??
      (target === undefined && failure === undefined ? sim.overlayFailDelay?.(network) : undefined) ??
      (typeof d === 'number' ? d : d[0] + Math.random() * (d[1] - d[0]));
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (client.destroyed) return;
      if (failure !== undefined) return reply(failure);
      if (target === undefined) return reply(rep);
      const upstream = netConnect({ host: target.host, port: target.port });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (!upstreamUp) reply(err.code === 'ECONNREFUSED' ? 0x05 : 0x01);
        else client.destroy();
      });
      let upstreamUp = false;
      upstream.once('connect', () => {
        upstreamUp = true;
        if (client.destroyed) return void upstream.destroy();
        const net = network;
        const open = ++state.open[net];
        if (open > state.peak[net]) state.peak[net] = open;
        client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
        if (early.length > 0) upstream.write(early);
        relay(client, upstream, () => {
          state.open[net]--;
        });
      });
    }, wait);
    timers.add(timer);
  }

  const { address, port } = await listenFront(server, opts);
  return {
    address,
    port,
    stats: () => ({ accepted: state.accepted, requests: [...state.requests.entries], requestCount: state.requests.total, credentials: [...state.credentials.entries], open: { ...state.open }, peak: { ...state.peak } }),
    close: () => closeFront(server, sockets, timers),
  };
}
