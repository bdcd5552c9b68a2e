import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerConnection, type PeerHost } from '../workers/peer-connection.js';
import { socketErrorCode } from '../workers/peer-socket.js';
import type { PeerEvent } from '../src/shared/messages.js';
import { DeadlineTicker } from '../workers/ticker.js';
import { AllowList } from '../src/shared/allow-list.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { NETWORKS } from '../src/wire/index.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';
import { pollUntil, waitUntil } from './helpers/wait.js';

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

/** Tells the waits below that some test's event list grew. */
const emitted = new EventEmitter();

function host(overrides: Partial<PeerHost> & { events: PeerEvent[] }): PeerHost {
  const { events, ...rest } = overrides;
  const emit = rest.emit;
  return {
    net: NETWORKS.regtest,
    cap: PeerCap.create(10),
    slot: 0,
    allow: AllowList.parse(['127.0.0.0/8']),
    mode: 'crawl',
    timeouts: { connectMs: 1000, handshakeMs: 1000, getaddrMs: 1000, addrQuietMs: 30, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 },
    ticker: new DeadlineTicker(20),
    log: pino({ level: 'silent' }),
    closed: () => undefined,
    ...rest,
    emit: (ev) => {
      if (emit === undefined) events.push(ev);
      else emit(ev);
      emitted.emit('event');
    },
  };
}

/** Waits (with a deadline) until `events` holds `count` events matching `pred`. */
function eventsWhere(events: PeerEvent[], pred: (e: PeerEvent) => boolean, what: string, count = 1): Promise<void> {
  return waitUntil([[emitted, ['event']]], () => events.filter(pred).length >= count, what, 50_000);
}

async function ended(events: PeerEvent[]): Promise<Extract<PeerEvent, { kind: 'end' }>> {
  await eventsWhere(events, (e) => e.kind === 'end', 'the end event');
  return events.find((e) => e.kind === 'end') as Extract<PeerEvent, { kind: 'end' }>;
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
    // The peer sees its connection close only after our socket's own close callbacks have run:
    // a second end event would be in the list by then.
    await waitUntil([[p.events, ['close']]], () => p.open() === 0 && p.accepted() === 1, 'the peer to see the connection close');
    expect(events.filter((e) => e.kind === 'end')).toHaveLength(1);
    expect(events.map((e) => e.kind)).toEqual(['connected', 'reachable', 'addrs', 'addrs', 'end']);
    expect(h.ticker.size).toBe(0);
    expect(h.cap.open()).toBe(0);
  });
});

describe('PeerConnection: a connect that never completes', () => {
  it('closes the pending socket (its descriptor) when the connect times out, not only the cap slot', async () => {
    // A child process listens with a tiny backlog and then blocks its event loop
    // forever, so it never accepts: once its accept queue is full, the kernel
    // drops further SYNs and our connects stay pending.
    const { spawn } = await import('node:child_process');
    const { readdirSync } = await import('node:fs');
    const script = `
      const s = require('node:net').createServer();
      s.listen({ host: '127.70.1.1', port: 0, backlog: 1 }, () => {
        // Block once the port is written (a pipe write is synchronous): it accepts nothing after that.
        process.stdout.write(String(s.address().port) + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('error', reject);
      });
      const fds = (): number => readdirSync('/proc/self/fd').length;
      const baseline = fds();
      const events: PeerEvent[] = [];
      const h = host({ events, timeouts: { connectMs: 300, handshakeMs: 300, getaddrMs: 300, addrQuietMs: 30, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 } });
      const dials = 6;
      for (let i = 0; i < dials; i++) PeerConnection.dial(h, `127.70.1.1:${port}`);
      await eventsWhere(events, (e) => e.kind === 'end', `${dials} end events`, dials);
      const codes = events.filter((e) => e.kind === 'end').map((e) => (e.kind === 'end' ? e.error?.code : undefined));
      // At most backlog+1 connects complete (and then time out in the handshake); the rest never connect.
      expect(codes.filter((c) => c === 'ERR_CONNECT_TIMEOUT').length).toBeGreaterThanOrEqual(dials - 2);
      expect(h.cap.open()).toBe(0);
      // The destroyed handles close (no event tells when a descriptor is gone: poll, with a deadline).
      await pollUntil(() => fds() <= baseline, `descriptors back to ${baseline}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('PeerConnection: address budget', () => {
  const many = (n: number, base: number): string[] => Array.from({ length: n }, (_, i) => `127.${base}.${(i >> 8) & 255}.${i & 255}:1`);
  const accepted = (events: PeerEvent[]): number => events.reduce((n, e) => n + (e.kind === 'addrs' ? e.texts.length : 0), 0);

  it('crawl mode: keeps one getaddr answer (plus a few unsolicited) from a peer flooding addr messages, counts the rest', async () => {
    const p = await startLoopbackPeer({ host: '127.70.2.1', addrs: many(1000, 71) });
    peers.push(p);
    const events: PeerEvent[] = [];
    const h = host({ events, timeouts: { connectMs: 2000, handshakeMs: 2000, getaddrMs: 5000, addrQuietMs: 300, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 } });
    PeerConnection.dial(h, p.address);
    await eventsWhere(events, (e) => e.kind === 'reachable', 'the reachable event');
    p.floodAddrs(many(1000, 72), 4);
    const end = await ended(events);
    expect(end.error).toBeUndefined();
    // The self-announcement + the 1,000-entry answer fit; the 4,000 flooded ones do not.
    expect(accepted(events)).toBeGreaterThanOrEqual(1001);
    expect(accepted(events)).toBeLessThanOrEqual(1010);
    expect(end.info?.addrsReturned).toBe(accepted(events));
    expect(end.info?.addrsDropped).toBeGreaterThan(0);
  });

  it('node mode: once the answer is in, further addr floods are dropped (0.1 address/s refill)', async () => {
    const p = await startLoopbackPeer({ host: '127.70.2.2', addrs: many(1000, 73) });
    peers.push(p);
    const events: PeerEvent[] = [];
    const h = host({ events, mode: 'node', timeouts: { connectMs: 2000, handshakeMs: 2000, getaddrMs: 5000, addrQuietMs: 50, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 } });
    const conn = PeerConnection.dial(h, p.address);
    await eventsWhere(events, (e) => e.kind === 'ready', 'the ready event');
    const before = accepted(events);
    p.floodAddrs(many(1000, 74), 3);
    // A ping after the flood: its pong proves every flooded message was processed (TCP keeps order).
    p.broadcast({ command: 'ping', nonce: 77n });
    await waitUntil([[p.events, ['command']]], () => p.sessions[0]?.includes('pong') === true, 'the pong');
    expect(before).toBeGreaterThanOrEqual(1001);
    expect(accepted(events) - before).toBeLessThanOrEqual(10 - (before - 1000) + 1);
    conn.stop();
    await ended(events);
  });
});

describe('PeerConnection: what an established peer keeps', () => {
  it('node mode: the reusable buffer of a getaddr answer split across reads is released once the peer is established', async () => {
    const addrs = Array.from({ length: 1000 }, (_, i) => `127.75.${(i >> 8) & 255}.${i & 255}:1`);
    let conn: PeerConnection | null = null;
    // The second half goes out once the first is held (a busy machine would otherwise deliver both in one read).
    const firstHalfHeld = (): Promise<void> => pollUntil(() => conn !== null && conn.retainedBufferBytes > 10_000, 'the first half of the answer to be buffered');
    const p = await startLoopbackPeer({ host: '127.70.3.1', addrs, answerPieces: 2, betweenPieces: firstHalfHeld });
    peers.push(p);
    const events: PeerEvent[] = [];
    let retainedAtAnswer = -1;
    const h = host({
      events,
      mode: 'node',
      timeouts: { connectMs: 2000, handshakeMs: 2000, getaddrMs: 5000, addrQuietMs: 50, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 },
      emit: (ev) => {
        // Called while the answer is being delivered: its body sits in the decoder's reusable buffer.
        if (ev.kind === 'addrs' && ev.texts.length === 1000 && conn !== null) retainedAtAnswer = conn.retainedBufferBytes;
        events.push(ev);
      },
    });
    conn = PeerConnection.dial(h, p.address);
    await eventsWhere(events, (e) => e.kind === 'ready', 'the ready event');
    expect(retainedAtAnswer).toBeGreaterThan(10_000);
    expect(conn.retainedBufferBytes).toBe(0);
    expect(conn.isOpen).toBe(true);
    conn.stop();
    await ended(events);
  });
});

describe('PeerConnection: a peer that never reads', () => {
  it('ends the connection ERR_SLOW_PEER once the pongs queued to a ping flooder pass the send-buffer limit', async () => {
    const { createServer } = await import('node:net');
    const { encodeMessage, makeVersion } = await import('../src/wire/index.js');
    const net = NETWORKS.regtest;
    const server = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.write(encodeMessage(net, { command: 'version', payload: makeVersion({ version: 70016, services: 1n, userAgent: '/flooder/', startHeight: 1 }) }));
      sock.write(encodeMessage(net, { command: 'verack' }));
      // Never read again: our pongs pile up in the kernel buffers, then in the crawler's memory.
      sock.pause();
      const ping = encodeMessage(net, { command: 'ping', nonce: 1n });
      const burst = Buffer.concat(Array.from({ length: 32_768 }, () => ping)); // 1 MiB of pings
      let sent = 0;
      const flood = (): void => {
        while (sent < 24 && !sock.destroyed) {
          sent++;
          if (!sock.write(burst)) return void sock.once('drain', flood);
        }
      };
      flood();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.70.3.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const events: PeerEvent[] = [];
      const h = host({ events, timeouts: { connectMs: 2000, handshakeMs: 2000, getaddrMs: 30_000, addrQuietMs: 30, pingIntervalMs: 60_000, pingTimeoutMs: 60_000 } });
      PeerConnection.dial(h, `127.70.3.1:${port}`);
      const end = await ended(events);
      expect(end.error).toMatchObject({ code: 'ERR_SLOW_PEER' });
      expect(end.info?.userAgent).toBe('/flooder/');
      expect(h.cap.open()).toBe(0);
    } finally {
      server.close();
    }
  });
});
