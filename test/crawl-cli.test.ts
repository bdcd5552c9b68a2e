import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCrawlArgs } from '../src/cli/commands/crawl.js';
import { dnsServersFor, resolveDnsSeeds } from '../src/seeds/dns-seeds.js';
import { AllowList } from '../src/shared/allow-list.js';
import type { NodeRecord } from '../src/engine/record.js';
import { startDnsSeedServer, type TestDnsServer } from './helpers/dns-seed-server.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/**
 * Third octet of every loopback host here, random per run: other runs of this
 * suite on the same machine (other worktrees) must not collide on fixed ports.
 */
const R = 1 + Math.floor(Math.random() * 250);

const peers: LoopbackPeer[] = [];
let dns: TestDnsServer | null = null;
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await dns?.close();
  dns = null;
});

describe('crawl CLI arguments', () => {
  it.each([
    [['--network', 'regtest', '--seed', '127.0.0.1:1'], /--only CIDR is required/],
    [['--only', '127.0.0.0/8', '--network', 'moon', '--seed', '127.0.0.1:1'], /--network/],
    [['--only', '127.0.0.0/8'], /--seed/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--max-peers', '0'], /--max-peers/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--timeout', 'soon'], /--timeout/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--mode', 'seeder'], /--mode/],
    [['--only', '127.0.0.0/8', '--seed', 'not-an-address'], /--seed/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--bogus'], /bogus/],
  ])('rejects %j with a clear UsageError', (argv, message) => {
    expect(() => parseCrawlArgs(argv)).toThrow(message);
  });

  it('accepts the documented example', () => {
    const opts = parseCrawlArgs('--network regtest --seed 127.100.0.2:18444 --only 127.0.0.0/8 --max-peers 40 --timeout 3s --out crawl.ndjson'.split(' '));
    expect(opts).toMatchObject({ network: 'regtest', seeds: ['127.100.0.2:18444'], only: ['127.0.0.0/8'], maxPeers: 40, timeoutMs: 3000, out: 'crawl.ndjson', mode: 'crawl' });
  });
});

describe('bitspread crawl (built CLI)', () => {
  it('exits 2 with a message on bad arguments', async () => {
    const r = await runCli(['crawl', '--seed', '127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--only CIDR is required/);
  });

  it('crawls DNS-seeded loopback peers into a snapshot and prints a summary', async () => {
    // regtest's DNS seed name, answered by a local DNS server; the peers listen on regtest's default port.
    peers.push(await startLoopbackPeer({ host: `127.68.${R}.1`, port: 18444, addrs: [`127.68.${R}.2:18444`] }));
    peers.push(await startLoopbackPeer({ host: `127.68.${R}.2`, port: 18444 }));
    dns = await startDnsSeedServer({ 'dummyseed.invalid': { a: [`127.68.${R}.1`, '10.1.2.3'] } });
    const out = join(mkdtempSync(join(tmpdir(), 'bitspread-cli-')), 'crawl.ndjson');
    const r = await runCli(['crawl', '--network', 'regtest', '--dns-seed', '--dns-server', dns.address, '--only', `127.68.${R}.0/24`, '--only', '127.0.0.1/32', '--timeout', '1s', '--addr-quiet', '50ms', '--workers', '1', '--out', out, '--log-level', 'warn']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/reachable 2, failed 0, skipped 1/);
    const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as NodeRecord);
    const states = Object.fromEntries(recs.map((x) => [x.addr, `${x.state}:${x.reason ?? x.error ?? ''}`]));
    // 10.1.2.3 came from DNS but is outside --only: never dialled.
    expect(states).toEqual({ [`127.68.${R}.1:18444`]: 'reachable:', [`127.68.${R}.2:18444`]: 'reachable:', '10.1.2.3:18444': 'skipped:not-allowed' });
    expect(dns.queries).toContain('udp dummyseed.invalid A');
  });

  it('--dns-seed without a --dns-server inside --only exits 2 before any query (the system resolver is not loopback-only)', async () => {
    const r = await runCli(['crawl', '--network', 'regtest', '--dns-seed', '--only', '127.68.0.0/16', '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/system resolver\(s\) .* outside the allow-list/);
  });

  it('--dns-server outside --only exits 2 and that server receives no query', async () => {
    dns = await startDnsSeedServer({ 'dummyseed.invalid': { a: ['127.68.0.1'] } });
    const r = await runCli(['crawl', '--network', 'regtest', '--dns-seed', '--dns-server', dns.address, '--only', '127.68.0.0/16', '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dns-server 127\.0\.0\.1:\d+ is outside the allow-list/);
    // The CLI has exited, so any query it sent already sits in the server's queue; our own probe,
    // sent now, is read after it. Once the probe is logged, nothing else was.
    const probe = new Resolver({ timeout: 5000, tries: 1 });
    probe.setServers([dns.address]);
    await probe.resolve4('probe.invalid').catch(() => undefined);
    expect(dns.queries).toEqual(['udp probe.invalid A']);
  });

  it('dnsServersFor: servers must be inside the allow-list unless allow-any', () => {
    const loop = AllowList.parse(['127.0.0.0/8', '::1/128']);
    expect(dnsServersFor(['127.0.0.1:5353', '[::1]:53'], loop)).toEqual(['127.0.0.1:5353', '[::1]:53']);
    expect(() => dnsServersFor(['127.0.0.1:5353', '10.0.0.1'], loop)).toThrow(expect.objectContaining({ code: 'ERR_DNS_SERVER_NOT_ALLOWED' }));
    expect(() => dnsServersFor(['[2001:db8::1]:53'], loop)).toThrow(/outside the allow-list/);
    expect(dnsServersFor(['10.0.0.1'], null)).toEqual(['10.0.0.1:53']);
  });

  it('resolveDnsSeeds reports a name that does not resolve', async () => {
    dns = await startDnsSeedServer({});
    const res = await resolveDnsSeeds({ network: 'mainnet', seeds: [{ host: 'nothing.invalid.', serviceBits: null }], servers: [dns.address], allow: null });
    expect(res.addresses).toEqual([]);
    expect(res.seeds).toEqual([{ seed: 'nothing.invalid.', queried: 'nothing.invalid', addresses: 0, error: 'ERR_DNS_NOT_FOUND' }]);
  });
});

describe('bitspread crawl --out', () => {
  it('an unwritable --out exits 2 with a clear message before dialling anyone', async () => {
    const p = await startLoopbackPeer({ host: `127.69.${R}.9`, port: 18444 });
    peers.push(p);
    const out = join(mkdtempSync(join(tmpdir(), 'bitspread-out-')), 'no-such-dir', 'crawl.ndjson');
    const r = await runCli(['crawl', '--network', 'regtest', '--seed', p.address, '--only', `127.69.${R}.0/24`, '--workers', '1', '--out', out, '--log-level', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot write the snapshot to '.*no-such-dir\/crawl\.ndjson': ENOENT/);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(p.accepted()).toBe(0);
  });
});
