import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AllowList } from '../src/shared/allow-list.js';
import { startSimNetwork, startSocksFront, type SimNetwork, type SocksFront } from '../src/sim/index.js';
import { SOCKS5_REPLY_CODES, socks5Connect } from '../workers/transports/socks5.js';
import { parseProxyEndpoint } from '../src/shared/proxy-endpoint.js';
import { startMicrosocks, type Microsocks } from './helpers/microsocks.js';
import { RawPeer } from './helpers/raw-peer.js';

const loopback = AllowList.loopback();

/** A TCP server that echoes, on host; resolves with its port. */
async function echoServer(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

function roundTrip(sock: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) resolve(got);
    });
    sock.once('error', reject);
    sock.resume();
    sock.write(text);
  });
}

describe('SOCKS5 through a real server (Debian microsocks on 127.0.0.1)', () => {
  let socks: Microsocks;
  let v4: { server: Server; port: number };
  let v6: { server: Server; port: number };
  beforeAll(async () => {
    socks = await startMicrosocks();
    v4 = await echoServer('127.0.0.1');
    v6 = await echoServer('::1');
  });
  afterAll(async () => {
    await socks?.stop();
    v4?.server.close();
    v6?.server.close();
  });

  it('relays to an IPv4 and an IPv6 destination, with stream-isolation credentials offered', async () => {
    const proxy = parseProxyEndpoint(socks.address);
    for (const [host, port] of [['127.0.0.1', v4.port], ['::1', v6.port]] as const) {
      const sock = await socks5Connect({ proxy, host, port, timeoutMs: 5000, allow: loopback });
      expect(await roundTrip(sock, `hello ${host}`)).toBe(`hello ${host}`);
      sock.destroy();
    }
  });

  it('maps the proxy refusing the destination to ERR_SOCKS_CONNECTION_REFUSED', async () => {
    const closed = await echoServer('127.0.0.1');
    await new Promise<void>((r) => closed.server.close(() => r()));
    await expect(socks5Connect({ proxy: parseProxyEndpoint(socks.address), host: '127.0.0.1', port: closed.port, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({
      code: 'ERR_SOCKS_CONNECTION_REFUSED',
    });
  });

  it('says ERR_PROXY_AUTH_FAILED when the proxy wants other credentials', async () => {
    const strict = await startMicrosocks({ user: 'alice', pass: 'secret' });
    try {
      const proxy = parseProxyEndpoint(strict.address);
      await expect(socks5Connect({ proxy, host: '127.0.0.1', port: v4.port, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_PROXY_AUTH_FAILED' });
      await expect(socks5Connect({ proxy, host: '127.0.0.1', port: v4.port, timeoutMs: 5000, allow: loopback, isolate: false })).rejects.toMatchObject({ code: 'ERR_PROXY_AUTH_FAILED' });
    } finally {
      await strict.stop();
    }
  });
});

describe('SOCKS5 failures before and around the proxy', () => {
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

  it('refuses a proxy outside the allow-list without connecting to it', async () => {
    let connections = 0;
    const addr = await listen(() => connections++);
    const only = AllowList.parse(['127.9.0.0/16']);
    await expect(socks5Connect({ proxy: parseProxyEndpoint(addr), host: '127.9.0.1', port: 1, timeoutMs: 1000, allow: only })).rejects.toMatchObject({ code: 'ERR_PROXY_UNREACHABLE' });
    expect(connections).toBe(0);
  });

  it('refuses a .onion name with a bad checksum without connecting', async () => {
    let connections = 0;
    const addr = await listen(() => connections++);
    const bad = 'a'.repeat(56) + '.onion';
    await expect(socks5Connect({ proxy: parseProxyEndpoint(addr), host: bad, port: 8333, timeoutMs: 1000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_ONION_CHECKSUM' });
    expect(connections).toBe(0);
  });

  it('ERR_PROXY_UNREACHABLE when nothing listens, ERR_PROXY_PROTOCOL for a non-SOCKS server, ERR_PROXY_TIMEOUT for a silent one', async () => {
    const gone = await listen(() => undefined);
    servers.pop()!.close();
    await new Promise((r) => setImmediate(r));
    await expect(socks5Connect({ proxy: parseProxyEndpoint(gone), host: '127.0.0.1', port: 1, timeoutMs: 1000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_PROXY_UNREACHABLE' });
    const http = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await expect(socks5Connect({ proxy: parseProxyEndpoint(http), host: '127.0.0.1', port: 1, timeoutMs: 1000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_PROXY_PROTOCOL' });
    const silent = await listen(() => undefined);
    await expect(socks5Connect({ proxy: parseProxyEndpoint(silent), host: '127.0.0.1', port: 1, timeoutMs: 200, allow: loopback })).rejects.toMatchObject({ code: 'ERR_PROXY_TIMEOUT' });
  });
});

describe("SOCKS5 through the sim's Tor-like front", () => {
  let sim: SimNetwork;
  let front: SocksFront;
  beforeAll(async () => {
    sim = await startSimNetwork({ nodes: 60, seed: 7, mix: { modern: 1 }, overlays: { onion: 0.35, cjdns: 0.1 } });
  });
  afterAll(async () => {
    await front?.close();
    await sim?.close();
  });

  const onions = (): string[] => sim.truth().nodes.filter((n) => n.network === 'onion').map((n) => n.addr);

  it('reaches every onion node of the sim, each connection with its own credentials', async () => {
    front = await startSocksFront(sim, { delayMs: { onion: [1, 10] } });
    const proxy = parseProxyEndpoint(front.address);
    const list = onions();
    expect(list.length).toBeGreaterThan(5);
    for (const addr of list) {
      const i = addr.lastIndexOf(':');
      const sock = await socks5Connect({ proxy, host: addr.slice(0, i), port: Number(addr.slice(i + 1)), timeoutMs: 5000, allow: loopback });
      const peer = RawPeer.adopt(sock);
      peer.sendVersion();
      expect(await peer.waitFor(() => peer.find('version').length > 0, 5000)).toBe(true);
      sock.destroy();
    }
    const creds = front.stats().credentials;
    expect(creds).toHaveLength(list.length);
    expect(new Set(creds).size).toBe(list.length);
    expect(front.stats().peak.onion).toBeGreaterThanOrEqual(1);
    await front.close();
  });

  it('maps every reply the front can give (0x01-0x08, Tor 0xF0-0xF7) to its typed code', async () => {
    const list = onions();
    // Every named reply, plus two no spec names (must still be typed, not crash).
    const codes = [...Object.keys(SOCKS5_REPLY_CODES).map(Number), 0x09, 0xfa];
    const expected = (code: number): string => SOCKS5_REPLY_CODES[code] ?? 'ERR_SOCKS_UNKNOWN_REPLY';
    const failures: Record<string, number> = {};
    codes.forEach((code, i) => {
      failures[(list[i % list.length] as string).replace(/:\d+$/, '')] = code;
    });
    expect(codes.length).toBeLessThanOrEqual(list.length);
    front = await startSocksFront(sim, { failures, delayMs: { onion: 0 } });
    const proxy = parseProxyEndpoint(front.address);
    for (const code of codes) {
      const host = Object.keys(failures).find((h) => failures[h] === code) as string;
      await expect(socks5Connect({ proxy, host, port: 18444, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({ code: expected(code) });
    }
    await front.close();
  });

  it("answers an unknown onion with 0xF0 (descriptor not found), an unknown CJDNS address with 0x04, and reaches the sim's CJDNS nodes", async () => {
    front = await startSocksFront(sim, { delayMs: { onion: 0 } });
    const proxy = parseProxyEndpoint(front.address);
    const known = onions()[0] as string;
    // A valid v3 name the sim does not have: the onion of a fixed seed.
    const { fixedSeeds } = await import('../src/seeds/fixed-seeds.js');
    const stranger = fixedSeeds('mainnet').find((s) => s.network === 'onion')!.addr.replace(/:\d+$/, '');
    expect(known).not.toContain(stranger);
    await expect(socks5Connect({ proxy, host: stranger, port: 8333, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND' });
    await expect(socks5Connect({ proxy, host: 'fc00::dead', port: 8333, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_SOCKS_HOST_UNREACHABLE' });
    await expect(socks5Connect({ proxy, host: '127.0.0.1', port: 8333, timeoutMs: 5000, allow: loopback })).rejects.toMatchObject({ code: 'ERR_SOCKS_NOT_ALLOWED' });
    const cjdns = sim.truth().nodes.filter((n) => n.network === 'cjdns');
    expect(cjdns.length).toBeGreaterThan(2);
    for (const n of cjdns) {
      const host = n.addr.slice(1, n.addr.lastIndexOf(']'));
      const sock = await socks5Connect({ proxy, host, port: Number(n.addr.slice(n.addr.lastIndexOf(':') + 1)), timeoutMs: 5000, allow: loopback });
      sock.destroy();
    }
    expect(front.stats().peak.cjdns).toBeGreaterThanOrEqual(1);
  });
});
