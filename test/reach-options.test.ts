import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCrawlArgs } from '../src/cli/commands/crawl.js';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { fixedSeeds } from '../src/seeds/fixed-seeds.js';
import { startSimNetwork } from '../src/sim/index.js';
import { clampOnionBudget, DEFAULT_TOR_PROXY_BUDGET, resolveBudgets, routeOf, resolveReach } from '../src/shared/reach.js';
import { AllowList } from '../src/shared/allow-list.js';
import { startDnsSeedServer } from './helpers/dns-seed-server.js';

describe('crawl flags for reaching Tor, I2P, CJDNS and proxies', () => {
  it('maps every flag onto the options', () => {
    const o = parseCrawlArgs([
      '--seed', '127.0.0.1:8333', '--only', '127.0.0.0/8',
      '--via-tor', '--tor-proxy', '127.0.0.1:9050', '--tor-proxy', '127.0.0.1:9150', '--tor-proxy-budget', '8', '--no-stream-isolation',
      '--via-i2p', '--i2p-sam', '127.0.0.1:7656', '--cjdns', '--proxy', '127.0.0.1:1080=ipv6,cjdns',
      '--budget', 'onion=16,i2p=4', '--budget', 'ipv6=50', '--onion-timeout', '20s', '--i2p-timeout', '45s',
      '--fixed-seeds', '--dns-service-bits', '809',
    ]);
    expect(o).toMatchObject({
      reach: { torProxies: ['127.0.0.1:9050', '127.0.0.1:9150'], viaTor: true, torProxyBudget: 8, isolate: false, viaI2p: true, i2pSam: '127.0.0.1:7656', cjdns: true, proxy: '127.0.0.1:1080=ipv6,cjdns', connectMs: { onion: 20_000, i2p: 45_000 } },
      budgets: { onion: 16, i2p: 4, ipv6: 50 },
      fixedSeeds: true,
      dnsServiceBits: 0x809,
    });
  });

  it('rejects contradictions and bad values with a clear message', () => {
    const base = ['--seed', '127.0.0.1:8333', '--only', '127.0.0.0/8'];
    expect(() => parseCrawlArgs([...base, '--deny-list', 'x'])).toThrow(/refine --allow-any/);
    expect(() => parseCrawlArgs([...base, '--budget', 'onion'])).toThrow(/network=N/);
    expect(() => parseCrawlArgs([...base, '--dns-service-bits', 'xyz'])).toThrow(/hex/);
    expect(() => parseCrawlArgs([...base, '--fixed-seeds', '--no-fixed-seeds'])).toThrow(/contradict/);
    expect(() => parseCrawlArgs(['--seed', '127.0.0.1:8333', '--allow-any', '--deny-list', '/nonexistent/deny.txt'])).toThrow(/cannot read/);
    const dir = mkdtempSync(join(tmpdir(), 'bitspread-deny-'));
    writeFileSync(join(dir, 'deny.txt'), '1.2.3.0/24\nbad line\n');
    expect(() => parseCrawlArgs(['--seed', '127.0.0.1:8333', '--allow-any', '--deny-list', join(dir, 'deny.txt')])).toThrow(/deny\.txt line 2/);
    writeFileSync(join(dir, 'ok.txt'), '# abuse\n1.2.3.0/24\n2a02::/16\n');
    expect(parseCrawlArgs(['--seed', '127.0.0.1:8333', '--allow-any', '--deny-list', join(dir, 'ok.txt'), '--per-netgroup', '4'])).toMatchObject({ denyList: ['1.2.3.0/24', '2a02::/16'], perNetgroup: 4 });
    const only = AllowList.loopback();
    expect(() => resolveReach({ proxy: '127.0.0.1:1080=onion' }, only, 5000, 10)).toThrow(/not a network a plain SOCKS5 proxy reaches/);
    expect(() => resolveBudgets(125, { tor: 3 } as never)).toThrow(/unknown network 'tor'/);
  });

  it('routes each network as configured, Tor and I2P tighter than IP by default', () => {
    const cfg = resolveReach({ viaTor: true, torProxies: ['127.0.0.1:9050'], viaI2p: true, i2pSam: '127.0.0.1:7656', proxy: '127.0.0.1:1080=ipv6' }, AllowList.loopback(), 5000, 31);
    expect(routeOf(cfg, 'ipv4', 8333)).toEqual({ via: 'direct' });
    expect(routeOf(cfg, 'ipv6', 8333)).toEqual({ via: 'socks5', proxies: ['127.0.0.1:1080'] });
    expect(routeOf(cfg, 'onion', 8333)).toEqual({ via: 'socks5', proxies: ['127.0.0.1:9050'] });
    expect(routeOf(cfg, 'i2p', 0)).toEqual({ via: 'sam', bridge: '127.0.0.1:7656' });
    expect(routeOf(cfg, 'i2p', 8333)).toEqual({ skip: 'i2p-port' });
    expect(routeOf(cfg, 'cjdns', 8333)).toEqual({ skip: 'no-route' });
    expect(cfg.connectMs).toMatchObject({ ipv4: 5000, onion: 30_000, i2p: 60_000 });
    expect(resolveBudgets(125, undefined)).toEqual({ ipv4: 125, ipv6: 125, cjdns: 125, onion: 31, i2p: 15 });
    expect(resolveBudgets(4, { onion: 100 }).onion).toBe(4);
  });

  it('holds each Tor proxy to 64 open streams by default (Tor builds 32 circuits at a time), and the onion budget to what the proxies carry', () => {
    const tor = (budgetForTor: number, o: object = {}) => resolveReach({ viaTor: true, torProxies: ['127.0.0.1:9050', '127.0.0.1:9150'], ...o }, AllowList.loopback(), 5000, budgetForTor);
    expect(DEFAULT_TOR_PROXY_BUDGET).toBe(64);
    expect(tor(250).torProxyBudget).toBe(64);
    expect(tor(31).torProxyBudget).toBe(31);
    expect(tor(250, { torProxyBudget: 200 }).torProxyBudget).toBe(200);
    const budgets = resolveBudgets(1000, undefined);
    expect(budgets.onion).toBe(250);
    expect(clampOnionBudget(budgets, tor(budgets.onion)).onion).toBe(128);
    expect(clampOnionBudget(budgets, tor(budgets.onion, { torProxyBudget: 200 })).onion).toBe(250);
    expect(clampOnionBudget(budgets, resolveReach({}, AllowList.loopback(), 5000, budgets.onion))).toEqual(budgets);
  });
});

describe('hygiene and seeds in a crawl, without a single socket', () => {
  it('--allow-any never dials loopback (or any unroutable range): the whole sim is skipped', async () => {
    const sim = await startSimNetwork({ nodes: 20, seed: 4, mix: { modern: 1 }, overlays: { ipv6: 0.2 } });
    try {
      const recs: NodeRecord[] = [];
      const c = new Crawler({ network: sim.network, seeds: [...sim.seeds, '[::1]:1'], allowAny: true, workers: 1, timeoutMs: 1000 });
      c.on('node', (r: NodeRecord) => recs.push(r));
      const s = await c.start();
      expect(recs.length).toBe(sim.seeds.length + 1);
      for (const r of recs) expect(r).toMatchObject({ state: 'skipped', reason: 'loopback' });
      expect(s.bySkipReason).toEqual({ loopback: recs.length });
      expect(sim.stats().connectionsAccepted).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it("--fixed-seeds records Core's list, each address where the rules put it (nothing is dialled outside --only)", async () => {
    const recs: NodeRecord[] = [];
    const c = new Crawler({ network: 'signet', fixedSeeds: true, only: ['127.0.0.0/8'], workers: 1, timeoutMs: 1000 });
    c.on('node', (r: NodeRecord) => recs.push(r));
    await c.start();
    const seeds = fixedSeeds('signet');
    expect(recs.length).toBe(seeds.length);
    for (const r of recs) {
      if (r.network === 'ipv4' || r.network === 'ipv6') expect(r).toMatchObject({ state: 'skipped', reason: 'not-allowed' });
      else expect(r).toMatchObject({ state: 'skipped', reason: 'no-route' });
    }
  });

  it('falls back to the fixed seeds when the DNS seeds give nothing, as Core', async () => {
    const dns = await startDnsSeedServer({});
    try {
      const recs: NodeRecord[] = [];
      const c = new Crawler({ network: 'testnet4', dnsSeeds: true, dnsServers: [dns.address], only: ['127.0.0.0/8'], workers: 1, timeoutMs: 1000 });
      c.on('node', (r: NodeRecord) => recs.push(r));
      await c.start();
      expect(dns.queries).toContain('udp x9.seed.testnet4.wiz.biz A');
      expect(dns.queries).toContain('udp seed.testnet4.wiz.biz A');
      expect(recs.length).toBe(fixedSeeds('testnet4').length);
    } finally {
      await dns.close();
    }
  });
});
