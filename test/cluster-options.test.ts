/**
 * The `redis` option and the CLI flags: checked before anything connects,
 * with typed errors; the single-process path never loads the Redis client.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCrawlArgs } from '../src/cli/commands/crawl.js';
import { Crawler } from '../src/engine/crawler.js';
import { parseRedisUrl, resolveCoordinatorOptions } from '../src/cluster/options.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

describe('the redis option', () => {
  it.each([
    ['redis://10.1.2.3:6379/0', ['127.0.0.0/8'], /outside the allow-list/],
    ['redis://localhost:6379', ['127.0.0.0/8'], /must be an IP address inside --only/],
    ['http://127.0.0.1:6379', ['127.0.0.0/8'], /redis:\/\//],
    ['redis://127.0.0.1:6379/db', ['127.0.0.0/8'], /database number/],
    ['not a url', ['127.0.0.0/8'], /expected a URL/],
  ])('%s with --only %j is ERR_BAD_OPTION', (url, only, message) => {
    let err: unknown;
    try {
      new Crawler({ seeds: ['127.0.0.1:18444'], only, redis: url });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_BAD_OPTION' });
    expect(String((err as Error).message)).toMatch(message);
  });

  it('is for crawl mode only, and the lease must leave room for the timeout', () => {
    expect(() => new Crawler({ seeds: ['127.0.0.1:18444'], only: ['127.0.0.0/8'], mode: 'node', redis: 'redis://127.0.0.1:6379' })).toThrow(/crawl mode only/);
    expect(() => resolveCoordinatorOptions({ url: 'redis://127.0.0.1', leaseMs: 1000, timeoutMs: 800 })).toThrow(/at most half of leaseMs/);
    expect(() => resolveCoordinatorOptions({ url: 'redis://127.0.0.1', name: 'a b' })).toThrow(/redis name/);
  });

  it('accepts a loopback Redis inside --only, IPv6 included; any host with allowAny', () => {
    expect(() => new Crawler({ seeds: ['127.0.0.1:18444'], only: ['127.0.0.0/8'], redis: 'redis://127.0.0.1:6390/2' })).not.toThrow();
    expect(() => new Crawler({ seeds: ['[::1]:18444'], only: ['::1/128'], redis: { url: 'redis://[::1]:6390', name: 'v6' } })).not.toThrow();
    expect(() => new Crawler({ seeds: ['127.0.0.1:18444'], allowAny: true, redis: 'redis://redis.example:6379' })).not.toThrow();
    expect(parseRedisUrl('redis://:secret@[::1]:7000/3')).toEqual({ host: '::1', port: 7000 });
  });
});

describe('crawl CLI flags for a cluster crawl', () => {
  it('parses --redis, --redis-name and --redis-lease; --redis lets a process join without --seed', () => {
    expect(parseCrawlArgs(['--only', '127.0.0.0/8', '--redis', 'redis://127.0.0.1:6379/0', '--redis-name', 'nightly', '--redis-lease', '10s'])).toMatchObject({
      seeds: [],
      redis: { url: 'redis://127.0.0.1:6379/0', name: 'nightly', leaseMs: 10_000 },
    });
  });

  it.each([
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--redis-name', 'x'], /need --redis/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--redis', 'redis://127.0.0.1', '--mode', 'node'], /crawl mode only/],
    [['--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--redis', 'redis://127.0.0.1', '--redis-lease', 'soon'], /--redis-lease/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCrawlArgs(argv)).toThrow(message);
  });

  it('exits 2 with a clear message for a Redis outside --only, before connecting anywhere', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'crawl', '--only', '127.0.0.0/8', '--seed', '127.0.0.1:18444', '--redis', 'redis://192.0.2.1:6379'], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr });
      });
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/redis: 192\.0\.2\.1 is outside the allow-list/);
  });

  it('the single-process path does not load the Redis client (a process that uses it does)', async () => {
    const dist = (f: string): string => JSON.stringify(new URL(`../dist/src/${f}`, import.meta.url).href);
    const loaded = async (body: string): Promise<boolean> => {
      const code = `
        ${body}
        const { createRequire } = await import('node:module');
        const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@redis'));
        process.stdout.write(JSON.stringify({ loaded }));`;
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', code], { timeout: 30_000, cwd: fileURLToPath(new URL('..', import.meta.url)) }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      });
      return (JSON.parse(out) as { loaded: boolean }).loaded;
    };
    expect(await loaded(`const { crawl } = await import(${dist('index.js')}); await crawl({ seeds: [], only: ['127.0.0.0/8'], workers: 1 }).done;`)).toBe(false);
    expect(await loaded(`await import(${dist('cluster/coordinator.js')});`)).toBe(true);
  });
});
