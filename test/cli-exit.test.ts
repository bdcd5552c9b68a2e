/**
 * The built CLI as a user and a script see it: how it stops on the signals a
 * service manager sends, what it does when it cannot write, the distinct exit
 * status of a run that did nothing useful, stdout for data and stderr for logs
 * and progress, and clear words for bad arguments (issue 11, items 4-8).
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeRecord } from '../src/engine/record.js';
import { startDnsSeedServer, type TestDnsServer } from './helpers/dns-seed-server.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';
import { StreamText, waitUntil } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
/** Third octet of every loopback host here, random per run (other suites on the machine). */
const R = 1 + Math.floor(Math.random() * 250);

function runCli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

const peers: LoopbackPeer[] = [];
let dns: TestDnsServer | null = null;
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await dns?.close();
  dns = null;
});

function tmpFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'bitspread-exit-')), name);
}

function readRecords(file: string): NodeRecord[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as NodeRecord);
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

function spawnCli(args: string[]): { child: Child; stdout: StreamText; stderr: StreamText; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: new StreamText(child.stdout), stderr: new StreamText(child.stderr), exited };
}

/** Peers that complete the handshake and never answer getaddr: their visits stay open until stopped. */
async function stuckPeers(octet: number, count: number): Promise<LoopbackPeer[]> {
  const out: LoopbackPeer[] = [];
  for (let i = 1; i <= count; i++) out.push(await startLoopbackPeer({ host: `127.${octet}.${R}.${i}`, port: 18444, behaviour: 'no-getaddr' }));
  peers.push(...out);
  return out;
}

/** Resolves once `n` of the peers have been asked for addresses (their handshakes are complete). */
function getaddrSent(ps: readonly LoopbackPeer[], n: number): Promise<void> {
  return waitUntil(
    ps.map((p) => [p.events, ['command']] as const),
    () => ps.filter((p) => p.sessions[0]?.includes('getaddr') === true).length >= n,
    `${n} peers to receive getaddr`,
  );
}

describe('stop signals (SIGTERM from systemd/docker, SIGHUP, SIGINT) are all handled as Ctrl-C', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', 130],
  ] as const)('%s: complete snapshot (queued -> skipped stopped, open peers recorded), summary, exit %i', async (signal, status) => {
    const octet = { SIGTERM: 71, SIGHUP: 72, SIGINT: 73 }[signal];
    const ps = await stuckPeers(octet, 4);
    const out = tmpFile('crawl.ndjson');
    const args = ['crawl', '--network', 'regtest', '--only', `127.${octet}.${R}.0/24`, '--max-peers', '2', '--timeout', '30s', '--workers', '1', '--out', out, '--log-level', 'silent'];
    for (const p of ps) args.push('--seed', p.address);
    const run = spawnCli(args);
    await getaddrSent(ps, 2);
    run.child.kill(signal);
    const { code } = await run.exited;
    expect(code).toBe(status);
    expect(run.stdout.text).toMatch(/^stopped: 4 addresses/m);
    expect(run.stderr.text).toMatch(new RegExp(`${signal}: stopping`));
    const recs = readRecords(out);
    expect(recs.map((r) => r.addr).sort()).toEqual(ps.map((p) => p.address).sort());
    expect(recs.map((r) => `${r.state}:${r.reason ?? r.error ?? ''}`).sort()).toEqual(['reachable:', 'reachable:', 'skipped:stopped', 'skipped:stopped']);
    // The crawler closed every socket before it exited.
    await waitUntil(
      ps.map((p) => [p.events, ['close']] as const),
      () => ps.every((p) => p.open() === 0),
      'every peer connection to close',
    );
  });
});

describe('write errors stop the crawl at once with ERR_WRITE (exit 7)', () => {
  it('--out /dev/full: stops dialling after the first failed write, prints the summary and a typed error', async () => {
    const ps: LoopbackPeer[] = [];
    for (let i = 1; i <= 8; i++) ps.push(await startLoopbackPeer({ host: `127.74.${R}.${i}`, port: 18444 }));
    peers.push(...ps);
    const args = ['crawl', '--network', 'regtest', '--only', `127.74.${R}.0/24`, '--max-peers', '1', '--timeout', '1s', '--addr-quiet', '200ms', '--workers', '1', '--out', '/dev/full', '--log-level', 'silent'];
    for (const p of ps) args.push('--seed', p.address);
    const r = await runCli(args);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/ERR_WRITE: cannot write the snapshot to '\/dev\/full': ENOSPC/);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stdout).toMatch(/^stopped: /m);
    // One peer at a time, and the first record's write failed: the other seven were never dialled.
    expect(ps.reduce((n, p) => n + p.accepted(), 0)).toBeLessThanOrEqual(2);
  });

  it('a file size limit (EFBIG, like a full disk) leaves the snapshot ending on a whole line', async () => {
    // One peer that hands out 60 addresses outside --only: 61 records, far over a 1-block file limit.
    const learned = Array.from({ length: 60 }, (_, i) => `10.${R}.${i}.1:18444`);
    const p = await startLoopbackPeer({ host: `127.75.${R}.1`, port: 18444, addrs: learned });
    peers.push(p);
    const out = tmpFile('crawl.ndjson');
    const cmd = [CLI, 'crawl', '--network', 'regtest', '--only', `127.75.${R}.0/24`, '--seed', p.address, '--timeout', '5s', '--addr-quiet', '200ms', '--workers', '1', '--out', out, '--log-level', 'silent'];
    // A shell sets the limit (RLIMIT_FSIZE) for node; SIGXFSZ is ignored so the write fails with EFBIG.
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('/bin/sh', ['-c', 'trap "" XFSZ; ulimit -f 2; exec "$0" "$@"', process.execPath, ...cmd], { timeout: 60_000 }, (err, _stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr }),
      );
    });
    expect(r.stderr).toMatch(/ERR_WRITE: cannot write the snapshot to '.*crawl\.ndjson': EFBIG/);
    expect(r.code).toBe(7);
    const text = readFileSync(out, 'utf8');
    expect(text.length).toBeGreaterThan(0);
    expect(text.endsWith('\n')).toBe(true);
    // Every line is whole JSON, and fewer than all 61 records fit.
    const recs = readRecords(out);
    expect(recs.length).toBeLessThan(61);
  });

  it('--out - (the snapshot on stdout) into a closed pipe: EPIPE stops the crawl at once', async () => {
    const ps: LoopbackPeer[] = [];
    for (let i = 1; i <= 6; i++) ps.push(await startLoopbackPeer({ host: `127.76.${R}.${i}`, port: 18444 }));
    peers.push(...ps);
    const args = ['crawl', '--network', 'regtest', '--only', `127.76.${R}.0/24`, '--max-peers', '1', '--timeout', '1s', '--addr-quiet', '200ms', '--workers', '1', '--out', '-', '--log-level', 'silent'];
    for (const p of ps) args.push('--seed', p.address);
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader went away (`bitspread crawl --out - | head -0`)
    const stderr = new StreamText(child.stderr);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr.text).toMatch(/ERR_WRITE: cannot write the snapshot to standard output: EPIPE/);
    expect(code).toBe(7);
    expect(stderr.text).toMatch(/^stopped: /m); // the summary went to stderr, stdout being the snapshot
    expect(ps.reduce((n, p) => n + p.accepted(), 0)).toBeLessThanOrEqual(2);
  });

  it('a summary that cannot be written to a closed stdout is ERR_WRITE (exit 7), not a crash', async () => {
    const p = await startLoopbackPeer({ host: `127.77.${R}.1`, port: 18444 });
    peers.push(p);
    const child = spawn(process.execPath, [CLI, 'crawl', '--network', 'regtest', '--only', `127.77.${R}.0/24`, '--seed', p.address, '--timeout', '1s', '--addr-quiet', '50ms', '--workers', '1', '--log-level', 'silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    const stderr = new StreamText(child.stderr);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr.text).toMatch(/ERR_WRITE: cannot write to standard output: EPIPE/);
    expect(stderr.text).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(code).toBe(7);
  });
});

describe('a run that did nothing useful exits non-zero, one status per cause', () => {
  it('every seed outside --only (a bare address is one host): exit 3 before dialling, and the message says why', async () => {
    const p = await startLoopbackPeer({ host: `127.78.${R}.1`, port: 18444 });
    peers.push(p);
    const r = await runCli(['crawl', '--network', 'regtest', '--only', '127.0.0.0', '--seed', p.address, '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ERR_NOTHING_ALLOWED: none of the seeds .* is inside --only 127\.0\.0\.0/);
    expect(r.stderr).toMatch(/127\.0\.0\.0 = 127\.0\.0\.0\/32/);
    expect(p.accepted()).toBe(0);
  });

  it('every DNS seed answer outside --only: exit 3 after the crawl', async () => {
    dns = await startDnsSeedServer({ 'dummyseed.invalid': { a: ['10.9.8.7', '10.9.8.6'] } });
    const r = await runCli(['crawl', '--network', 'regtest', '--dns-seed', '--dns-server', dns.address, '--only', '127.0.0.1/32', '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ERR_NOTHING_ALLOWED: nothing was dialled: all 2 dialable addresses lie outside --only/);
  });

  it('every seed unreachable: exit 4 with the failure codes', async () => {
    const r = await runCli(['crawl', '--network', 'regtest', '--only', `127.79.${R}.0/24`, '--seed', `127.79.${R}.1:18444`, '--seed', `127.79.${R}.2:18444`, '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_NONE_REACHABLE: no node reachable: all 2 dialled addresses failed \(ERR_CONNECTION_REFUSED 2\)/);
    expect(r.stdout).toMatch(/^done: 2 addresses/m);
  });

  it('DNS seeds that answer nothing: exit 5', async () => {
    dns = await startDnsSeedServer({});
    const r = await runCli(['crawl', '--network', 'regtest', '--dns-seed', '--dns-server', dns.address, '--only', '127.0.0.0/8', '--workers', '1', '--log-level', 'silent']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/ERR_NO_SEEDS/);
  });

  it('decode of an empty input (a file, stdin, or whitespace-only hex): exit 6', async () => {
    const empty = tmpFile('empty.bin');
    writeFileSync(empty, '');
    for (const [args, input] of [[['decode', empty]], [['decode', '-'], ''], [['decode', '-'], ' \n\t\n']] as Array<[string[], string?]>) {
      const r = await runCli(args, input);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/ERR_EMPTY_INPUT: the input is empty/);
      expect(r.stdout).toBe('');
    }
  });

  it('a crawl that reached a node exits 0, and --json prints one machine-readable summary on stdout', async () => {
    const p = await startLoopbackPeer({ host: `127.80.${R}.1`, port: 18444 });
    peers.push(p);
    const r = await runCli(['crawl', '--network', 'regtest', '--only', `127.80.${R}.0/24`, '--seed', p.address, '--timeout', '1s', '--addr-quiet', '50ms', '--workers', '1', '--json', '--log-level', 'info']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(summary).toMatchObject({ total: 1, byState: { reachable: 1, failed: 0, skipped: 0 }, stopped: false, exitCode: 0, error: null, signal: null });
  });
});

describe('stdout for the summary and data, stderr for logs and progress', () => {
  it('pino lines (main thread and workers) go to stderr; stdout holds only the summary', async () => {
    const p = await startLoopbackPeer({ host: `127.81.${R}.1`, port: 18444, addrs: [`127.81.${R}.2:18444`] });
    peers.push(p);
    const r = await runCli(['crawl', '--network', 'regtest', '--only', `127.81.${R}.0/24`, '--seed', p.address, '--timeout', '2s', '--addr-quiet', '100ms', '--workers', '1', '--log-level', 'debug']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^done: 2 addresses/);
    expect(r.stdout).not.toMatch(/"level"/);
    const logs = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logs.some((l) => /"msg":"crawl starting"/.test(l))).toBe(true);
    expect(logs.some((l) => /"worker":\d/.test(l))).toBe(true); // a worker thread's own log line
  });

  it('without a terminal, a progress line every --progress interval on stderr', async () => {
    const ps = await stuckPeers(82, 1);
    const run = spawnCli(['crawl', '--network', 'regtest', '--only', `127.82.${R}.0/24`, '--seed', ps[0]!.address, '--timeout', '30s', '--workers', '1', '--progress', '100ms', '--log-level', 'silent']);
    await run.stderr.waitFor(/^progress: \d+s {2}known 1 {2}queued 0 {2}open 1/m, 'a progress line on stderr');
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(143);
    expect(run.stdout.text).not.toMatch(/progress:/);
  });
});

describe('bad arguments get clear words and exit 2 (never a stack trace or a hang)', () => {
  it.each([
    [['crawl', '--only', '127.0.0.0/8', '--seed', '127.0.0.1:1', '--max-peers', '-1'], /--max-peers: must be between 1 and 100000, got -1/],
    [['sim', '--seed', '-5'], /--seed: must be between 0 and 4294967295, got -5/],
    [['sim', '--mix', 'modern=2'], /--mix: a share is a fraction from 0 to 1, got modern=2/],
    [['sim', '--mix', 'modem=0.5'], /--mix: unknown kind 'modem' \(kinds: modern, old, chatty/],
    [['crawl', '--bogus'], /unknown option '--bogus'/],
    [['crawl', '--only'], /--only needs a value/],
  ])('%j', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/ambiguous|XYZ|at .*\.js:\d+/);
  });

  it('sim --truth into a missing directory: a clear message, exit 2, nothing left serving', async () => {
    const r = await runCli(['sim', '--nodes', '5', '--base', `127.83.${R}.0`, '--truth', '/nonexistent/t.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot write the ground truth to '\/nonexistent\/t\.json': ENOENT/);
    expect(r.stdout).toBe('');
  });

  it('decode takes hex as its argument, and --version prints the version', async () => {
    const verack = 'fabfb5da76657261636b000000000000000000005df6e0e2';
    const r = await runCli(['decode', verack]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ command: 'verack' });
    expect(existsSync(verack)).toBe(false);
    const v = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(v).toEqual({ code: 0, stdout: `bitspread ${pkg.version}\n`, stderr: '' });
  });
});
