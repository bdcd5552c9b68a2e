/**
 * Each simulated behaviour, probed by a raw client speaking our codec.
 * One network with every behaviour in equal shares.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAddress, type AddrEntry } from '../src/wire/index.js';
import { startSimNetwork, SIM_BEHAVIOURS, type SimBehaviour, type SimNetwork, type SimTruthNode } from '../src/sim/index.js';
import { RawPeer } from './helpers/raw-peer.js';
import { pollUntil } from './helpers/wait.js';

let sim: SimNetwork;
let nodes: SimTruthNode[];

beforeAll(async () => {
  const share = 1 / SIM_BEHAVIOURS.length;
  const mix = Object.fromEntries(SIM_BEHAVIOURS.map((b) => [b, share])) as Record<SimBehaviour, number>;
  sim = await startSimNetwork({ nodes: 132, seed: 7, mix, baseAddress: '127.181.0.0' });
  nodes = sim.truth().nodes;
});

afterAll(async () => {
  await sim.close();
});

/**
 * A node of that behaviour that knows at least `minPeers` peers and some non-IP address when asked.
 * One that speaks v1 only: these probes are v1 clients, and a v2 node (like Core) takes a v1 client
 * whose first bytes are not a version message for a v2 one (test/sim-v2.test.ts covers v2 nodes).
 */
function nodeOf(behaviour: SimBehaviour, opts: { nonIp?: boolean } = {}): SimTruthNode {
  const found = nodes.find((n) => {
    if (n.behaviour !== behaviour || n.speaksV2) return false;
    const known = sim.knownBy(n.addr);
    return known !== undefined && known.peers.length >= 3 && (opts.nonIp !== true || known.nonIp.length > 0);
  });
  if (found === undefined) throw new Error(`no ${behaviour} node in the test network`);
  return found;
}

function addrTexts(entries: readonly AddrEntry[]): string[] {
  return entries.map((e) => (e.address === null ? 'null' : formatAddress(e.address)));
}

/**
 * A full round trip with a modern node of the same in-process sim: once its
 * verack is here (and the poll phase that brought it is over), the sim has
 * handled everything written to it before; whatever another node would have
 * answered to that is in our sockets by now.
 */
async function simRoundTrip(): Promise<void> {
  const peer = await RawPeer.open(nodeOf('modern').addr);
  peer.sendVersion();
  expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
  peer.close();
  await new Promise((r) => setImmediate(r));
}

function violationsOf(addr: string, kind: string): number {
  return sim.stats().violations.filter((v) => v.node === addr && v.kind === kind).length;
}

describe('modern', () => {
  it('answers version with version, wtxidrelay, sendaddrv2, verack carrying its own fields', async () => {
    const node = nodeOf('modern');
    const peer = await RawPeer.open(node.addr);
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
    expect(peer.commands()).toEqual(['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
    const v = peer.find('version')[0]?.payload;
    expect(v?.version).toBe(70016);
    expect(v?.userAgent).toBe(node.userAgent);
    expect(Number(v?.services)).toBe(node.services);
    expect(v?.startHeight).toBe(node.startHeight);
    peer.close();
  });

  it('answers getaddr after verack with addrv2 holding every known peer and non-IP address, once per connection', async () => {
    const node = nodeOf('modern', { nonIp: true });
    const known = sim.knownBy(node.addr);
    const peer = await RawPeer.open(node.addr);
    await peer.handshake({ addrv2: true });
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.find('addrv2').length === 1)).toBe(true);
    const entries = peer.find('addrv2')[0]?.entries ?? [];
    expect(new Set(addrTexts(entries))).toEqual(new Set([...(known?.peers ?? []), ...(known?.nonIp ?? [])]));
    expect(entries.some((e) => e.address !== null && e.address.network !== 'ipv4')).toBe(true);
    peer.send({ command: 'getaddr' });
    peer.send({ command: 'ping', nonce: 42n });
    // The sim answers in order: the pong to a ping sent after the second getaddr comes after any answer to it.
    expect(await peer.waitFor(() => peer.find('pong').length === 1)).toBe(true);
    expect(peer.find('pong')[0]?.nonce).toBe(42n);
    expect(peer.find('addrv2')).toHaveLength(1);
    expect(peer.find('addr')).toHaveLength(0);
    peer.close();
  });

  it('answers with v1 addr and no non-IP entries to a client that did not send sendaddrv2', async () => {
    const node = nodeOf('modern', { nonIp: true });
    const known = sim.knownBy(node.addr);
    const peer = await RawPeer.open(node.addr);
    await peer.handshake({ addrv2: false });
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.find('addr').length === 1)).toBe(true);
    const entries = peer.find('addr')[0]?.entries ?? [];
    expect(entries.every((e) => e.address?.network === 'ipv4')).toBe(true);
    expect(new Set(addrTexts(entries))).toEqual(new Set(known?.peers));
    expect(peer.find('addrv2')).toHaveLength(0);
    peer.close();
  });

  it('ignores getaddr (and ping) before verack and records the violation, then answers after verack', async () => {
    const node = nodeOf('modern');
    const before = violationsOf(node.addr, 'getaddr-before-verack');
    const peer = await RawPeer.open(node.addr);
    peer.sendVersion();
    peer.send({ command: 'getaddr' });
    peer.send({ command: 'ping', nonce: 1n });
    expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
    // After our verack a ping is answered, and in order: by its pong, any answer to the early getaddr or ping is here.
    peer.send({ command: 'verack' });
    peer.send({ command: 'ping', nonce: 2n });
    expect(await peer.waitFor(() => peer.find('pong').length >= 1)).toBe(true);
    expect(peer.find('addr')).toHaveLength(0);
    expect(peer.find('pong').map((m) => m.nonce)).toEqual([2n]);
    expect(violationsOf(node.addr, 'getaddr-before-verack')).toBe(before + 1);
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.find('addr').length === 1)).toBe(true);
    peer.close();
  });

  it('records messages before version, a second version, bad checksums, and disconnects on sendaddrv2 after verack', async () => {
    const node = nodeOf('modern');
    const peer = await RawPeer.open(node.addr);
    peer.send({ command: 'verack' }); // before version
    const bad = peer.frame('ping', new Uint8Array(8));
    bad[20] = (bad[20] as number) ^ 0xff;
    peer.sendRaw(bad); // bad checksum
    await peer.handshake({ addrv2: false });
    peer.sendVersion(); // second version
    // The pong to a later ping proves the second version was handled (and recorded) first.
    peer.send({ command: 'ping', nonce: 3n });
    expect(await peer.waitFor(() => peer.find('pong').some((m) => m.nonce === 3n))).toBe(true);
    expect(violationsOf(node.addr, 'bytes-before-version')).toBeGreaterThanOrEqual(1);
    expect(violationsOf(node.addr, 'bad-checksum')).toBeGreaterThanOrEqual(1);
    expect(violationsOf(node.addr, 'second-version')).toBeGreaterThanOrEqual(1);
    expect(peer.closed).toBe(false);
    peer.send({ command: 'sendaddrv2' });
    expect(await peer.waitFor(() => peer.closed)).toBe(true);
    expect(violationsOf(node.addr, 'sendaddrv2-after-verack')).toBeGreaterThanOrEqual(1);
  });

  it('disconnects a client with the wrong magic and records it', async () => {
    const node = nodeOf('modern');
    const peer = await RawPeer.open(node.addr);
    const mainnetVersion = peer.frame('verack', new Uint8Array(0));
    mainnetVersion.set([0xf9, 0xbe, 0xb4, 0xd9], 0);
    peer.sendRaw(mainnetVersion);
    expect(await peer.waitFor(() => peer.closed)).toBe(true);
    expect(violationsOf(node.addr, 'wrong-magic')).toBeGreaterThanOrEqual(1);
  });
});

describe('old', () => {
  it('speaks 70015 without wtxidrelay/sendaddrv2 and answers v1 addr even after sendaddrv2', async () => {
    const node = nodeOf('old');
    const known = sim.knownBy(node.addr);
    const peer = await RawPeer.open(node.addr);
    await peer.handshake({ addrv2: true });
    expect(peer.commands().slice(0, 2)).toEqual(['version', 'verack']);
    expect(peer.find('version')[0]?.payload.version).toBe(70015);
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.find('addr').length === 1)).toBe(true);
    expect(new Set(addrTexts(peer.find('addr')[0]?.entries ?? []))).toEqual(new Set(known?.peers));
    expect(peer.find('addrv2')).toHaveLength(0);
    // sendaddrv2 is an unknown command to a 70015 node: a late one is recorded but does not cost the connection.
    peer.send({ command: 'sendaddrv2' });
    peer.send({ command: 'ping', nonce: 7n });
    expect(await peer.waitFor(() => peer.find('pong').length === 1)).toBe(true);
    expect(peer.closed).toBe(false);
    expect(violationsOf(node.addr, 'sendaddrv2-after-verack')).toBe(1);
    peer.close();
  });
});

describe('chatty', () => {
  it('announces itself and pings before a getaddr answer split over several messages', async () => {
    const node = nodeOf('chatty', { nonIp: false });
    const known = sim.knownBy(node.addr);
    const peer = await RawPeer.open(node.addr);
    await peer.handshake({ addrv2: true });
    peer.send({ command: 'getaddr' });
    const total = (known?.peers.length ?? 0) + (known?.nonIp.length ?? 0);
    expect(await peer.waitFor(() => peer.find('addrv2').slice(1).reduce((s, m) => s + m.entries.length, 0) === total)).toBe(true);
    const cmds = peer.commands().filter((c) => c === 'addrv2' || c === 'ping');
    expect(cmds[0]).toBe('addrv2');
    expect(cmds[1]).toBe('ping');
    const [self, ...parts] = peer.find('addrv2');
    expect(addrTexts(self?.entries ?? [])).toEqual([node.addr]);
    expect(parts.length).toBeGreaterThan(1);
    expect(new Set(parts.flatMap((m) => addrTexts(m.entries)))).toEqual(new Set([...(known?.peers ?? []), ...(known?.nonIp ?? [])]));
    peer.close();
  });
});

describe('slow', () => {
  it('completes the handshake and the answer while writing a few bytes at a time', async () => {
    const node = nodeOf('slow');
    const peer = await RawPeer.open(node.addr);
    await peer.handshake({ addrv2: true });
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.find('addrv2').length === 1, 10_000)).toBe(true);
    const bytes = peer.chunks.reduce((s, c) => s + c.length, 0);
    // It writes 1-8 bytes per 2 ms tick; even if TCP coalesces some, the stream arrives in many pieces.
    expect(peer.chunks.length).toBeGreaterThan(bytes / 64);
    peer.close();
  });
});

describe('broken nodes', () => {
  it('silent: accepts and never speaks', async () => {
    const accepted = sim.stats().connectionsAccepted;
    const peer = await RawPeer.open(nodeOf('silent').addr);
    peer.sendVersion();
    // The sim accepted it (a silent node has nothing to run after that), and has since handled a whole handshake elsewhere.
    await pollUntil(() => sim.stats().connectionsAccepted > accepted, 'the sim to accept the connection');
    await simRoundTrip();
    expect(peer.chunks).toHaveLength(0);
    expect(peer.closed).toBe(false);
    peer.close();
  });

  it('refused: nobody listens there', async () => {
    await expect(RawPeer.open(nodeOf('refused').addr)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('garbage: answers with bytes that are not a frame', async () => {
    const peer = await RawPeer.open(nodeOf('garbage').addr);
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.errors.length > 0)).toBe(true);
    expect(peer.errors[0]).toMatchObject({ code: 'ERR_BAD_MAGIC', fatal: true });
    expect(peer.messages).toHaveLength(0);
    peer.close();
  });

  it('badchecksum: its version fails the checksum, the verack after it decodes', async () => {
    const peer = await RawPeer.open(nodeOf('badchecksum').addr);
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
    expect(peer.errors[0]).toMatchObject({ code: 'ERR_BAD_CHECKSUM', command: 'version', fatal: false });
    expect(peer.find('version')).toHaveLength(0);
    peer.close();
  });

  it('oversized: declares a payload over 4,000,000 bytes', async () => {
    const peer = await RawPeer.open(nodeOf('oversized').addr);
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.errors.length > 0)).toBe(true);
    expect(peer.errors[0]).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE', fatal: true });
    const header = Buffer.concat(peer.chunks);
    expect(header.readUInt32LE(16)).toBeGreaterThan(4_000_000);
    peer.close();
  });

  it('dropafterversion: sends its version and closes, never a verack', async () => {
    const peer = await RawPeer.open(nodeOf('dropafterversion').addr);
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.ended)).toBe(true);
    expect(peer.commands()).toEqual(['version']);
    peer.close();
  });

  it('toomany: completes the handshake, then answers getaddr with one message of more than 1,000 entries', async () => {
    const peer = await RawPeer.open(nodeOf('toomany').addr);
    await peer.handshake({ addrv2: false });
    peer.send({ command: 'getaddr' });
    expect(await peer.waitFor(() => peer.errors.length > 0)).toBe(true);
    // The codec refuses it either by its per-command size limit or by the entry count; the stream stays usable.
    expect(['ERR_ADDR_TOO_MANY', 'ERR_MESSAGE_TOO_LARGE']).toContain(peer.errors[0]?.code);
    expect(peer.errors[0]).toMatchObject({ command: 'addr', fatal: false });
    expect(peer.find('addr')).toHaveLength(0);
    // Find the addr frame in the raw stream and read its CompactSize count.
    const raw = Buffer.concat(peer.chunks);
    const at = raw.indexOf(Buffer.from('addr\0\0\0\0\0\0\0\0', 'latin1'));
    expect(at).toBeGreaterThan(0);
    expect(raw[at + 20]).toBe(0xfd);
    expect(raw.readUInt16LE(at + 21)).toBeGreaterThan(1000);
    peer.close();
  });
});

describe('latency', () => {
  it('delays accept and replies with timers when latency is set', async () => {
    const slowNet = await startSimNetwork({ nodes: 5, seed: 3, mix: { modern: 1 }, latency: { medianMs: 60, tailMs: 120 }, baseAddress: '127.181.200.0' });
    try {
      const peer = await RawPeer.open(slowNet.seeds[0] as string);
      const t0 = Date.now();
      peer.sendVersion();
      expect(await peer.waitFor(() => peer.find('verack').length === 1, 5000)).toBe(true);
      // Two draws (accept, reply) of at least median × e^(-4σ) ≈ 18 ms each.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(30);
      peer.close();
    } finally {
      await slowNet.close();
    }
  });
});
