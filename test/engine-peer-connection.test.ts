import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerConnection, socketErrorCode, type PeerHost } from '../src/crawl/peer-connection.js';
import type { PeerEvent } from '../src/crawl/protocol.js';
import { DeadlineTicker } from '../src/crawl/ticker.js';
import { AllowList } from '../src/crawl/allow-list.js';
import { PeerCap } from '../src/supervisor/peer-cap.js';
import { NETWORKS } from '../src/wire/index.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

function host(overrides: Partial<PeerHost> & { events: PeerEvent[] }): PeerHost {
  const { events, ...rest } = overrides;
  return {
    net: NETWORKS.regtest,
    cap: PeerCap.create(10),
    slot: 0,
    allow: AllowList.parse(['127.0.0.0/8']),
    mode: 'crawl',
    timeouts: { connectMs: 1000, handshakeMs: 1000, getaddrMs: 1000, addrQuietMs: 30, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 },
    ticker: new DeadlineTicker(20),
    log: pino({ level: 'silent' }),
    emit: (ev) => events.push(ev),
    closed: () => undefined,
    ...rest,
  };
}

function ended(events: PeerEvent[]): Promise<Extract<PeerEvent, { kind: 'end' }>> {
  return new Promise((resolve) => {
    const check = (): void => {
      const e = events.find((x) => x.kind === 'end');
      if (e !== undefined && e.kind === 'end') resolve(e);
      else setTimeout(check, 5);
    };
    check();
  });
}

describe('PeerConnection', () => {
  it('maps socket errnos to stable codes; running out of descriptors is ERR_RESOURCE', () => {
    expect(socketErrorCode('ECONNREFUSED')).toBe('ERR_CONNECTION_REFUSED');
    expect(socketErrorCode('ECONNRESET')).toBe('ERR_CONNECTION_RESET');
    expect(socketErrorCode('EPIPE')).toBe('ERR_CONNECTION_RESET');
    expect(socketErrorCode('EMFILE')).toBe('ERR_RESOURCE');
    expect(socketErrorCode('ENFILE')).toBe('ERR_RESOURCE');
    expect(socketErrorCode('EHOSTUNREACH')).toBe('ERR_SOCKET');
    expect(socketErrorCode(undefined)).toBe('ERR_SOCKET');
  });

  it('an exception inside a socket callback costs that connection only, and frees its slot', async () => {
    const p = await startLoopbackPeer({ host: '127.70.0.1', addrs: ['127.70.0.2:1', '127.70.0.3:1'] });
    peers.push(p);
    const events: PeerEvent[] = [];
    const h = host({ events });
    const throwing: PeerHost = {
      ...h,
      emit: (ev) => {
        if (ev.kind === 'addrs') throw new Error('bug in a consumer');
        h.emit(ev);
      },
    };
    PeerConnection.dial(throwing, p.address);
    const end = await ended(events);
    expect(end.error).toMatchObject({ code: 'ERR_SOCKET' });
    expect(end.error?.message).toMatch(/internal error: bug in a consumer/);
    // The handshake had completed: the node is still reported reachable.
    expect(end.info?.protocolVersion).toBe(70016);
    expect(h.cap.open()).toBe(0);
    expect(h.ticker.size).toBe(0);
  });

  it('emits exactly one end event per dial, and leaves no deadline registered', async () => {
    const p = await startLoopbackPeer({ host: '127.70.0.4', addrs: ['127.70.0.5:1', '127.70.0.6:1'] });
    peers.push(p);
    const events: PeerEvent[] = [];
    const h = host({ events });
    PeerConnection.dial(h, p.address);
    await ended(events);
    await new Promise((r) => setTimeout(r, 100));
    expect(events.filter((e) => e.kind === 'end')).toHaveLength(1);
    expect(events.map((e) => e.kind)).toEqual(['connected', 'reachable', 'addrs', 'addrs', 'end']);
    expect(h.ticker.size).toBe(0);
    expect(h.cap.open()).toBe(0);
  });
});
