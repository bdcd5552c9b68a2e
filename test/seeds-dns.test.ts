import { afterEach, describe, expect, it } from 'vitest';
import { AllowList } from '../src/shared/allow-list.js';
import { ReachError } from '../src/errors.js';
import { DNS_SEEDS, dnsServersFor, resolveDnsSeeds, seedQueryNames, type DnsSeed } from '../src/seeds/dns-seeds.js';
import { startDnsSeedServer, type TestDnsServer } from './helpers/dns-seed-server.js';

const loopback = AllowList.loopback();
let server: TestDnsServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const full: DnsSeed = { host: 'seed.full.test.', serviceBits: null };
const x9only: DnsSeed = { host: 'seed.x9.test.', serviceBits: [0x9] };
const x1only: DnsSeed = { host: 'seed.x1.test.', serviceBits: [0x1, 0x5] };

describe('DNS seed list', () => {
  it("has Core's seeds per network, each with a trailing dot", () => {
    expect(DNS_SEEDS.mainnet.map((s) => s.host)).toContain('seed.bitcoin.sprovoost.nl.');
    expect(DNS_SEEDS.mainnet).toHaveLength(7);
    expect(DNS_SEEDS.testnet3).toHaveLength(4);
    expect(DNS_SEEDS.testnet4).toHaveLength(2);
    expect(DNS_SEEDS.signet).toHaveLength(2);
    for (const list of Object.values(DNS_SEEDS)) for (const s of list) expect(s.host.endsWith('.')).toBe(true);
  });

  it('asks x9 first, then the bare name; a seed that does not serve x9 only by its bare name', () => {
    expect(seedQueryNames(full)).toEqual(['x9.seed.full.test', 'seed.full.test']);
    expect(seedQueryNames(x9only)).toEqual(['x9.seed.x9.test', 'seed.x9.test']);
    expect(seedQueryNames(x1only)).toEqual(['seed.x1.test']);
    expect(seedQueryNames(full, 0x809)).toEqual(['x809.seed.full.test', 'seed.full.test']);
    expect(seedQueryNames(full, 0)).toEqual(['seed.full.test']);
  });
});

describe('resolveDnsSeeds against a DNS server on 127.0.0.1', () => {
  it('takes A and AAAA answers of the x9 subdomain, with the network port', async () => {
    server = await startDnsSeedServer({
      'x9.seed.full.test': { a: ['127.1.0.1', '127.1.0.2'], aaaa: ['::1'] },
      'seed.full.test': { a: ['127.9.9.9'] },
    });
    const r = await resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: loopback, seeds: [full] });
    expect(r.addresses).toEqual(['127.1.0.1:8333', '127.1.0.2:8333', '[::1]:8333']);
    expect(r.seeds).toEqual([{ seed: 'seed.full.test.', queried: 'x9.seed.full.test', addresses: 3 }]);
    expect(server.queries.some((q) => q.includes(' seed.full.test '))).toBe(false);
  });

  it('falls back to the bare name when the x9 subdomain gives nothing', async () => {
    server = await startDnsSeedServer({ 'x9.seed.full.test': 'nxdomain', 'seed.full.test': { a: ['127.1.0.7'] } });
    const r = await resolveDnsSeeds({ network: 'testnet4', servers: [server.address], allow: loopback, seeds: [full] });
    expect(r.addresses).toEqual(['127.1.0.7:48333']);
    expect(r.seeds[0]?.queried).toBe('seed.full.test');
  });

  it('asks a seed without x9 support by its bare name only', async () => {
    server = await startDnsSeedServer({ 'seed.x1.test': { a: ['127.1.0.8'] } });
    const r = await resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: loopback, seeds: [x1only] });
    expect(r.addresses).toEqual(['127.1.0.8:8333']);
    expect(server.queries.every((q) => !q.includes('x9.'))).toBe(true);
  });

  it('retries over TCP when the UDP answer is truncated (c-ares does this itself)', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `127.2.0.${i + 1}`);
    server = await startDnsSeedServer({ 'x9.seed.full.test': { a: many } }, { truncateOver: 10 });
    const r = await resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: loopback, seeds: [full] });
    expect(r.addresses).toHaveLength(40);
    expect(server.queries).toContain('udp x9.seed.full.test A');
    expect(server.queries).toContain('tcp x9.seed.full.test A');
  });

  it('takes at most 256 addresses from one seed, as Core', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `127.3.${i >> 8}.${(i & 255) + 0}`);
    server = await startDnsSeedServer({ 'x9.seed.full.test': { a: many } }, { truncateOver: 10 });
    const r = await resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: loopback, seeds: [full] });
    expect(r.addresses).toHaveLength(256);
  });

  it('gives each failing seed a typed code, and keeps the others', async () => {
    server = await startDnsSeedServer({
      'seed.nx.test': 'nxdomain',
      'seed.fail.test': 'servfail',
      'seed.refused.test': 'refused',
      'seed.silent.test': 'silent',
      'seed.garbage.test': 'garbage',
      'seed.empty.test': { aaaa: [] },
      'seed.ok.test': { a: ['127.4.0.1'] },
    });
    const seeds: DnsSeed[] = ['nx', 'fail', 'refused', 'silent', 'garbage', 'empty', 'ok'].map((n) => ({ host: `seed.${n}.test.`, serviceBits: [0x1] }));
    const r = await resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: loopback, seeds, timeoutMs: 1000, tries: 1 });
    const codes = Object.fromEntries(r.seeds.map((s) => [s.seed, s.error ?? 'ok']));
    expect(codes).toEqual({
      'seed.nx.test.': 'ERR_DNS_NOT_FOUND',
      'seed.fail.test.': 'ERR_DNS_SERVER_FAILURE',
      'seed.refused.test.': 'ERR_DNS_REFUSED',
      'seed.silent.test.': 'ERR_DNS_TIMEOUT',
      'seed.garbage.test.': 'ERR_DNS_BAD_RESPONSE',
      'seed.empty.test.': 'ERR_DNS_NO_DATA',
      'seed.ok.test.': 'ok',
    });
    expect(r.addresses).toEqual(['127.4.0.1:8333']);
  });

  it('refuses a DNS server outside the allow-list before sending anything', async () => {
    server = await startDnsSeedServer({ 'seed.ok.test': { a: ['127.4.0.1'] } });
    const only = AllowList.parse(['127.5.0.0/16']);
    await expect(resolveDnsSeeds({ network: 'mainnet', servers: [server.address], allow: only, seeds: [full] })).rejects.toMatchObject({ code: 'ERR_DNS_SERVER_NOT_ALLOWED' });
    expect(server.queries).toEqual([]);
    expect(() => dnsServersFor(['8.8.8.8'], loopback)).toThrow(ReachError);
    expect(() => dnsServersFor(['not-an-ip'], loopback)).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(dnsServersFor(['[::1]:53', '127.0.0.1'], loopback)).toEqual(['[::1]:53', '127.0.0.1:53']);
  });
});
