/**
 * The seed's API on a running engine: crawler.connectToNode(ip, port),
 * (netAddress) and ('host:port') start a supervised peer in the worker pool
 * in either mode; countPeers() counts the active children; ERR_MAX_PEERS at
 * the cap. And the children exit with the reason that really happened.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { parseAddress } from '../src/wire/index.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

/** Third octet of every loopback host here, random per run: other runs on the machine must not collide. */
const R = 1 + Math.floor(Math.random() * 250);
const PORT = 18571;

const peers: LoopbackPeer[] = [];
const crawlers: Crawler[] = [];
afterEach(async () => {
  await Promise.all(crawlers.splice(0).map((c) => c.stop()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function peer(host: number, addrs: readonly string[] = ['127.99.0.1:1', '127.99.0.2:1']): Promise<LoopbackPeer> {
  const p = await startLoopbackPeer({ host: `127.68.${R}.${host}`, port: PORT, addrs });
  peers.push(p);
  return p;
}

/** A loopback port where nothing listens. */
async function refusedPort(host: string): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function crawler(opts: Partial<ConstructorParameters<typeof Crawler>[0]> = {}): Crawler {
  const c = new Crawler({ network: 'regtest', only: [`127.68.${R}.0/24`], workers: 1, timeoutMs: 2000, addrQuietMs: 30, ...opts });
  crawlers.push(c);
  return c;
}

interface Exit {
  id: string;
  kind: string;
  code: string | undefined;
  willRestart: boolean;
}

function exits(c: Crawler): Exit[] {
  const out: Exit[] = [];
  c.on('exit', (id: string, reason: { kind: string; error?: { code: string } }, willRestart: boolean) => out.push({ id, kind: reason.kind, code: reason.error?.code, willRestart }));
  return out;
}

describe('crawler.connectToNode, node mode', () => {
  it('starts supervised peers from (ip, port), a NetAddress and "host:port"; countPeers() counts them; ERR_MAX_PEERS at the cap', async () => {
    const [a, b, c, d] = await Promise.all([peer(1), peer(2), peer(3), peer(4)]);
    const cr = crawler({ mode: 'node', maxPeers: 3 });
    const done = cr.start();
    expect(cr.countPeers()).toBe(0);
    await expect(cr.connectToNode(`127.68.${R}.1`, PORT)).resolves.toBe(a!.address);
    expect(cr.countPeers()).toBe(1);
    await expect(cr.connectToNode(parseAddress(b!.address))).resolves.toBe(b!.address);
    await expect(cr.connectToNode(c!.address)).resolves.toBe(c!.address);
    expect(cr.countPeers()).toBe(3);
    await expect(cr.connectToNode(d!.address)).rejects.toMatchObject({ name: 'PeerError', code: 'ERR_MAX_PEERS' });
    expect(d!.accepted()).toBe(0);
    // Each is a live connection, held by a worker.
    for (const p of [a, b, c]) expect(p!.open()).toBe(1);
    expect(cr.stats().open).toBe(3);
    // Asking again for a peer already connected is refused, and opens nothing.
    await expect(cr.connectToNode(a!.address)).rejects.toMatchObject({ name: 'SupervisorError', code: 'ERR_ALREADY_STARTED' });
    await cr.stop();
    const summary = await done;
    expect(summary.byState.reachable).toBe(3);
    expect(cr.countPeers()).toBe(0);
    expect(cr.cap.open()).toBe(0);
  });

  it('rejects with why a peer could not be established, records it failed once, and never restarts it', async () => {
    const host = `127.68.${R}.20`;
    const port = await refusedPort(host);
    const cr = crawler({ mode: 'node', supervisor: { maxRestarts: 5, maxSeconds: 10, backoff: { initialMs: 5, maxMs: 10, factor: 2 } } });
    const records: NodeRecord[] = [];
    cr.on('node', (r: NodeRecord) => records.push(r));
    const ex = exits(cr);
    const done = cr.start();
    await expect(cr.connectToNode(host, port)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    await until(() => records.length === 1, 'the record');
    expect(records[0]).toMatchObject({ addr: `${host}:${port}`, state: 'failed', error: 'ERR_CONNECTION_REFUSED' });
    // Never a child, so never restarted: no exit event, no child.
    expect(ex).toEqual([]);
    expect(cr.countPeers()).toBe(0);
    await cr.stop();
    await done;
    expect(records).toHaveLength(1);
  });

  it('a peer that drops exits with its true error and is restarted (transient)', async () => {
    const p = await peer(30);
    const cr = crawler({ mode: 'node', pingIntervalMs: 50, supervisor: { maxRestarts: 3, maxSeconds: 5, backoff: { initialMs: 10, maxMs: 50, factor: 2 } } });
    const ex = exits(cr);
    const done = cr.start();
    await cr.connectToNode(p.address);
    await until(() => p.open() === 1 && p.sessions[0]?.includes('ping') === true, 'the peer established');
    p.dropConnections();
    await until(() => ex.length > 0, 'the exit');
    expect(ex[0]).toEqual({ id: p.address, kind: 'error', code: 'ERR_PEER_CLOSED', willRestart: true });
    await until(() => p.accepted() === 2 && cr.countPeers() === 1, 'the restart');
    await cr.stop();
    await done;
    // Stopped by us: a shutdown, not restarted.
    expect(ex.at(-1)).toEqual({ id: p.address, kind: 'shutdown', code: undefined, willRestart: false });
  });
});

describe('node mode at the cap', () => {
  it('keeps the slot of a peer waiting to restart: new addresses do not take it, the restart reconnects', async () => {
    const b = await peer(81);
    const c = await peer(82);
    const a = await peer(80, [b.address, c.address]);
    const cr = crawler({
      mode: 'node',
      maxPeers: 2,
      seeds: [a.address],
      pingIntervalMs: 50,
      supervisor: { childMaxRestarts: 3, childMaxSeconds: 10, backoff: { initialMs: 300, maxMs: 300, factor: 1 } },
    });
    const ex = exits(cr);
    const done = cr.start();
    // a, then one of the two addresses it gossiped: the cap (2) is full, the third waits.
    await until(() => cr.countPeers() === 2, 'two established peers');
    const [second, third] = b.accepted() === 1 ? [b, c] : [c, b];
    expect(third.accepted()).toBe(0);
    a.dropConnections();
    await until(() => ex.some((e) => e.id === a.address && e.willRestart), 'the drop');
    await until(() => a.accepted() === 2 && cr.countPeers() === 2, 'the restart');
    // The waiting address never got a's slot, and a's restart did not fail for want of one.
    expect(third.accepted()).toBe(0);
    expect(second.accepted()).toBe(1);
    expect(ex.filter((e) => e.code === 'ERR_MAX_PEERS')).toEqual([]);
    await cr.stop();
    await done;
  });
});

describe('restart intensity of the whole supervisor, node mode', () => {
  it('a flap that drops every peer at once past maxRestarts shuts the supervisor down, and the crawl with it', async () => {
    const ps = await Promise.all([peer(70), peer(71), peer(72)]);
    const cr = crawler({ mode: 'node', pingIntervalMs: 50, supervisor: { maxRestarts: 1, maxSeconds: 60, backoff: { initialMs: 10, maxMs: 10, factor: 1 } } });
    const shutdowns: Array<{ code: string }> = [];
    cr.on('supervisorShutdown', (e: { code: string }) => shutdowns.push(e));
    const done = cr.start();
    for (const p of ps) await cr.connectToNode(p.address);
    expect(cr.countPeers()).toBe(3);
    for (const p of ps) p.dropConnections();
    const summary = await done;
    expect(shutdowns.map((e) => e.code)).toEqual(['ERR_RESTART_INTENSITY']);
    expect(summary.stopped).toBe(true);
    expect(summary.byState.reachable).toBe(3);
    expect(cr.countPeers()).toBe(0);
    expect(cr.cap.open()).toBe(0);
  });
});

describe('crawler.connectToNode, crawl mode', () => {
  it('visits a node given while the crawl runs, and crawls what it learned from it', async () => {
    const seed = await peer(40, [`127.68.${R}.41:${PORT}`]);
    const extra = await peer(42, [`127.68.${R}.43:${PORT}`, `127.68.${R}.44:${PORT}`]);
    const learned = await peer(43, ['127.99.0.1:1', '127.99.0.2:1']);
    await peer(41);
    await peer(44);
    const cr = crawler({ seeds: [seed.address] });
    const records: NodeRecord[] = [];
    cr.on('node', (r: NodeRecord) => records.push(r));
    const done = cr.start();
    // In the same turn as start(): counts before the crawl's end check.
    await expect(cr.connectToNode(extra.address)).resolves.toBe(extra.address);
    const summary = await done;
    expect(records.filter((r) => r.state !== 'skipped').map((r) => r.addr).sort()).toEqual([40, 41, 42, 43, 44].map((i) => `127.68.${R}.${i}:${PORT}`).sort());
    expect(summary.byState.reachable).toBe(5);
    expect(extra.accepted()).toBe(1);
    expect(learned.accepted()).toBe(1);
    // The crawl has ended: no more peers.
    await expect(cr.connectToNode(extra.address)).rejects.toMatchObject({ code: 'ERR_NOT_RUNNING' });
  });

  it('children exit with the reason that really happened: normal for a visit, an error for a refused dial', async () => {
    const ok = await peer(50);
    const host = `127.68.${R}.51`;
    const port = await refusedPort(host);
    const cr = crawler({ seeds: [ok.address, `${host}:${port}`] });
    const ex = exits(cr);
    await cr.start();
    expect(ex.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [
        { id: ok.address, kind: 'normal', code: undefined, willRestart: false },
        { id: `${host}:${port}`, kind: 'error', code: 'ERR_CONNECTION_REFUSED', willRestart: false },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
  });

  it('refuses bad calls with typed errors and opens nothing', async () => {
    const p = await peer(60);
    const cr = crawler({ mode: 'node' });
    await expect(cr.connectToNode(p.address)).rejects.toMatchObject({ code: 'ERR_NOT_RUNNING' });
    const done = cr.start();
    await expect(cr.connectToNode('127.69.0.1', PORT)).rejects.toMatchObject({ name: 'PeerError', code: 'ERR_NOT_ALLOWED' });
    await expect(cr.connectToNode(p.address, PORT + 1)).rejects.toMatchObject({ code: 'ERR_BAD_ARGUMENT' });
    await expect(cr.connectToNode(`127.68.${R}.60`, 70000)).rejects.toMatchObject({ code: 'ERR_BAD_ARGUMENT' });
    await expect(cr.connectToNode('not an address')).rejects.toMatchObject({ code: 'ERR_BAD_ADDRESS_TEXT' });
    expect(p.accepted()).toBe(0);
    await cr.stop();
    await done;
  });
});
