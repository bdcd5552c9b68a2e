/**
 * One worker's ways to reach a peer other than a plain TCP connect: the
 * SOCKS5 proxies (Tor, --proxy) and its SAM session (I2P, created on the
 * first I2P dial and shared by every I2P peer of this worker, as Core keeps
 * one session). PeerSocket asks for a route and, when it is proxied, for a
 * connected socket.
 */
import type { Socket } from 'node:net';
import { ReachError, PeerError } from '../../src/errors.js';
import type { AllowList } from '../../src/shared/allow-list.js';
import { PeerCap } from '../../src/shared/peer-cap.js';
import { parseProxyEndpoint } from '../../src/shared/proxy-endpoint.js';
import { routeOf, type ReachConfig, type Route } from '../../src/shared/reach.js';
import type { NetAddress } from '../../src/wire/types.js';
import { SamSession } from './sam.js';
import { socks5Connect } from './socks5.js';

export interface ProxiedSocket {
  readonly socket: Socket;
  readonly via: 'socks5' | 'sam';
  /** The proxy or bridge used, `host:port`. */
  readonly proxy: string;
  /** Frees the proxy's budget slot: call once, when the connection is gone. */
  readonly release: () => void;
}

export class Transports {
  private sam: Promise<SamSession> | null = null;
  private readonly torCaps: ReadonlyMap<string, PeerCap>;
  private turn = 0;

  constructor(
    readonly cfg: ReachConfig,
    private readonly allow: AllowList | null,
    /** One PeerCap buffer per Tor proxy, in cfg.torProxies order: the per-proxy budget across workers. */
    torProxyCaps: readonly SharedArrayBuffer[],
    private readonly slot: number,
  ) {
    this.torCaps = new Map(cfg.torProxies.map((p, i) => [p, PeerCap.attach(torProxyCaps[i] as SharedArrayBuffer)]));
  }

  route(addr: NetAddress): Route {
    return routeOf(this.cfg, addr.network, addr.port);
  }

  /** The connect deadline of an address's network (through a proxy: the whole proxy handshake). */
  connectMs(addr: NetAddress): number {
    return this.cfg.connectMs[addr.network];
  }

  /**
   * Opens a proxied connection to `host` (an IP literal, onion or .b32.i2p
   * name). Rejects with ReachError, or PeerError ERR_MAX_PEERS when every
   * Tor proxy is at its budget (the address is re-queued). `signal` aborts.
   */
  async open(route: Extract<Route, { via: 'socks5' | 'sam' }>, host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<ProxiedSocket> {
    if (route.via === 'sam') {
      const session = await this.samSession(timeoutMs);
      const socket = await abortable(session.connect(host, port, timeoutMs), signal);
      return { socket, via: 'sam', proxy: route.bridge, release: noop };
    }
    const { proxy, release } = this.pickProxy(route.proxies);
    try {
      const socket = await abortable(
        socks5Connect({ proxy: parseProxyEndpoint(proxy), host, port, timeoutMs, allow: this.allow, isolate: this.cfg.isolate }),
        signal,
      );
      return { socket, via: 'socks5', proxy, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The least-loaded proxy with room (Tor proxies have a shared budget each; others only the global cap). */
  private pickProxy(proxies: readonly string[]): { proxy: string; release: () => void } {
    const n = proxies.length;
    let best: { proxy: string; cap: PeerCap } | null = null;
    for (let k = 0; k < n; k++) {
      const proxy = proxies[(this.turn + k) % n] as string;
      const cap = this.torCaps.get(proxy);
      if (cap === undefined) return { proxy, release: noop };
      if (cap.open() < cap.max && (best === null || cap.open() < best.cap.open())) best = { proxy, cap };
    }
    this.turn++;
    if (best !== null && best.cap.tryAcquire(this.slot)) {
      const cap = best.cap;
      let held = true;
      return {
        proxy: best.proxy,
        release: () => {
          if (held) cap.release(this.slot);
          held = false;
        },
      };
    }
    throw new PeerError('ERR_MAX_PEERS', `every Tor proxy is at its budget of ${this.cfg.torProxyBudget} connections`);
  }

  private samSession(timeoutMs: number): Promise<SamSession> {
    const bridge = this.cfg.i2pSam;
    if (bridge === null) return Promise.reject(new ReachError('ERR_NO_ROUTE', 'no SAM bridge configured (--i2p-sam)'));
    const current = this.sam;
    if (current !== null) {
      return current.then(
        (s) => (s.usable ? s : this.newSamSession(bridge, timeoutMs)),
        () => this.newSamSession(bridge, timeoutMs),
      );
    }
    return this.newSamSession(bridge, timeoutMs);
  }

  private newSamSession(bridge: string, timeoutMs: number): Promise<SamSession> {
    const p = SamSession.create({ bridge: parseProxyEndpoint(bridge, '--i2p-sam'), allow: this.allow, timeoutMs });
    this.sam = p;
    // A failed creation is retried by the next I2P dial, not remembered.
    p.catch(() => {
      if (this.sam === p) this.sam = null;
    });
    return p;
  }

  close(): void {
    void this.sam?.then((s) => s.close(), noop);
    this.sam = null;
  }
}

function noop(): void {}

/** Settles with `p`, or rejects with ERR_STOPPED once `signal` aborts (a socket that still arrives is destroyed). */
function abortable(p: Promise<Socket>, signal: AbortSignal): Promise<Socket> {
  if (signal.aborted) {
    void p.then((s) => s.destroy(), noop);
    return Promise.reject(new PeerError('ERR_STOPPED', 'stopped'));
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new PeerError('ERR_STOPPED', 'stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (s) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) s.destroy();
        else resolve(s);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
