import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AllowList } from '../src/shared/allow-list.js';
import { startSamFront, startSimNetwork, type SamFront, type SimNetwork } from '../src/sim/index.js';
import { parseSamReply, SAM_RESULT_CODES, SamSession } from '../workers/transports/sam.js';
import { parseProxyEndpoint } from '../src/shared/proxy-endpoint.js';
import { RawPeer } from './helpers/raw-peer.js';

const loopback = AllowList.loopback();
let sim: SimNetwork;
let front: SamFront | null = null;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 60, seed: 11, mix: { modern: 0.9, refused: 0.1 }, overlays: { i2p: 0.3 } });
});
afterAll(async () => {
  await sim?.close();
});
afterEach(async () => {
  await front?.close();
  front = null;
});

const i2pNodes = () => sim.truth().nodes.filter((n) => n.network === 'i2p');
const hostOf = (addr: string): string => addr.slice(0, addr.lastIndexOf(':'));

describe('parseSamReply', () => {
  it('reads topics, bare and quoted values', () => {
    expect(parseSamReply('HELLO REPLY RESULT=OK VERSION=3.1')).toEqual({ topic: 'HELLO REPLY', fields: { RESULT: 'OK', VERSION: '3.1' } });
    expect(parseSamReply('STREAM STATUS RESULT=I2P_ERROR MESSAGE="no \\"tunnels\\" yet"')?.fields.MESSAGE).toBe('no "tunnels" yet');
    expect(parseSamReply('garbage')).toBeNull();
  });
});

describe("SAM v3.1 through the sim's front", () => {
  it('makes one TRANSIENT STREAM session and reaches every working I2P node (port 0)', async () => {
    front = await startSamFront(sim, { connectDelayMs: [1, 5] });
    const session = await SamSession.create({ bridge: parseProxyEndpoint(front.address, '--i2p-sam'), allow: loopback, timeoutMs: 5000 });
    const nodes = i2pNodes();
    expect(nodes.length).toBeGreaterThan(10);
    let reached = 0;
    for (const n of nodes) {
      expect(n.addr.endsWith('.b32.i2p:0')).toBe(true);
      if (n.behaviour === 'refused') {
        await expect(session.connect(hostOf(n.addr), 0, 5000)).rejects.toMatchObject({ code: 'ERR_SAM_CANT_REACH_PEER' });
        continue;
      }
      const sock = await session.connect(hostOf(n.addr), 0, 5000);
      const peer = RawPeer.adopt(sock);
      peer.sendVersion();
      expect(await peer.waitFor(() => peer.find('version').length > 0, 5000)).toBe(true);
      sock.destroy();
      reached++;
    }
    expect(reached).toBeGreaterThan(5);
    const commands = front.stats().commands;
    expect(commands.filter((c) => c.startsWith('SESSION CREATE'))).toHaveLength(1);
    expect(commands.find((c) => c.startsWith('SESSION CREATE'))).toMatch(/STYLE=STREAM ID=\S+ DESTINATION=TRANSIENT/);
    expect(commands.filter((c) => c.startsWith('NAMING LOOKUP NAME=')).length).toBe(nodes.length);
    expect(commands.filter((c) => c.startsWith('STREAM CONNECT ID=') && c.endsWith('SILENT=false')).length).toBe(nodes.length);
    session.close();
  });

  it("refuses an I2P address with a port other than 0, as Core does, without asking the bridge", async () => {
    front = await startSamFront(sim);
    const session = await SamSession.create({ bridge: parseProxyEndpoint(front.address), allow: loopback, timeoutMs: 5000 });
    const before = front.stats().accepted;
    await expect(session.connect(hostOf(i2pNodes()[0]!.addr), 8333, 5000)).rejects.toMatchObject({ code: 'ERR_I2P_PORT' });
    expect(front.stats().accepted).toBe(before);
    session.close();
  });

  it('gives every RESULT= value a typed code', async () => {
    const names = i2pNodes().filter((n) => n.behaviour !== 'refused').map((n) => hostOf(n.addr));
    const results = Object.keys(SAM_RESULT_CODES);
    const forced: Record<string, string> = {};
    [...results, 'SOMETHING_NEW'].forEach((r, i) => {
      forced[names[i] as string] = r;
    });
    front = await startSamFront(sim, { connectDelayMs: 0, failures: { names: forced } });
    const bridge = parseProxyEndpoint(front.address);
    let session = await SamSession.create({ bridge, allow: loopback, timeoutMs: 5000 });
    for (const [name, result] of Object.entries(forced)) {
      await expect(session.connect(name, 0, 5000)).rejects.toMatchObject({ code: SAM_RESULT_CODES[result] ?? 'ERR_SAM_UNKNOWN_RESULT' });
      // INVALID_ID means the bridge lost our session: it is dropped, the next dial needs a new one.
      expect(session.usable).toBe(result !== 'INVALID_ID');
      if (!session.usable) session = await SamSession.create({ bridge, allow: loopback, timeoutMs: 5000 });
    }
    session.close();
  });

  it('typed codes from the protocol itself: KEY_NOT_FOUND, INVALID_ID after the session is gone, NOVERSION, DUPLICATED_DEST at SESSION CREATE', async () => {
    front = await startSamFront(sim);
    const bridge = parseProxyEndpoint(front.address);
    const session = await SamSession.create({ bridge, allow: loopback, timeoutMs: 5000 });
    // A valid name no node has.
    await expect(session.connect('a'.repeat(52) + '.b32.i2p', 0, 5000)).rejects.toMatchObject({ code: 'ERR_SAM_KEY_NOT_FOUND' });
    session.close();
    await expect(session.connect(hostOf(i2pNodes()[0]!.addr), 0, 5000)).rejects.toMatchObject({ code: 'ERR_SAM_INVALID_ID' });
    await front.close();

    front = await startSamFront(sim, { failures: { hello: 'NOVERSION' } });
    await expect(SamSession.create({ bridge: parseProxyEndpoint(front.address), allow: loopback, timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ERR_SAM_NOVERSION' });
    await front.close();
    front = await startSamFront(sim, { failures: { session: 'DUPLICATED_DEST' } });
    await expect(SamSession.create({ bridge: parseProxyEndpoint(front.address), allow: loopback, timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ERR_SAM_DUPLICATED_DEST' });
  });
});

describe('SAM bridge failures', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });
  const listen = async (onConn: (s: Socket) => void): Promise<string> => {
    const server = createServer(onConn);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  };

  it('bridge outside the allow-list: refused without a connection', async () => {
    let n = 0;
    const addr = await listen(() => n++);
    await expect(SamSession.create({ bridge: parseProxyEndpoint(addr), allow: AllowList.parse(['127.8.0.0/16']), timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_PROXY_UNREACHABLE' });
    expect(n).toBe(0);
  });

  it('not a SAM bridge: ERR_PROXY_PROTOCOL; silent: ERR_PROXY_TIMEOUT; gone: ERR_PROXY_UNREACHABLE', async () => {
    const http = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await expect(SamSession.create({ bridge: parseProxyEndpoint(http), allow: loopback, timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_PROXY_PROTOCOL' });
    const silent = await listen(() => undefined);
    await expect(SamSession.create({ bridge: parseProxyEndpoint(silent), allow: loopback, timeoutMs: 200 })).rejects.toMatchObject({ code: 'ERR_PROXY_TIMEOUT' });
    const gone = await listen(() => undefined);
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    await expect(SamSession.create({ bridge: parseProxyEndpoint(gone), allow: loopback, timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_PROXY_UNREACHABLE' });
  });
});
