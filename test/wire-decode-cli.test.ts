/**
 * `bitspread decode` end to end, through the built CLI (npm test builds first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { NETWORKS, encodeMessage, frameMessage, makeVersion, parseAddress } from '../src/wire/index.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bitspread-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function decode(args: string[], input?: Buffer | string) {
  const r = spawnSync(process.execPath, [CLI, 'decode', ...args], { input, encoding: 'utf8', timeout: 30_000 });
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  return { code: r.status, lines: lines.map((l) => JSON.parse(l) as Record<string, unknown>), stderr: r.stderr };
}

const net = NETWORKS.regtest;
const stream = Buffer.concat([
  encodeMessage(net, { command: 'version', payload: makeVersion({ nonce: 2n ** 63n, userAgent: '/x:1/', startHeight: 7, timestamp: 5n }) }),
  encodeMessage(net, { command: 'verack' }),
  encodeMessage(net, {
    command: 'addrv2',
    entries: [
      { time: 1, services: 1033n, address: parseAddress('1.2.3.4:18444'), networkId: 1 },
      { time: 2, services: 0n, address: parseAddress('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333'), networkId: 4 },
    ],
  }),
]);

describe('bitspread decode', () => {
  it('decodes a binary capture into one JSON line per message, with addresses as text', () => {
    const file = join(dir, 'cap.bin');
    writeFileSync(file, stream);
    const { code, lines } = decode([file]);
    expect(code).toBe(0);
    expect(lines.map((l) => l.command)).toEqual(['version', 'verack', 'addrv2']);
    expect(lines[0]).toMatchObject({ version: 70016, nonce: '9223372036854775808', userAgent: '/x:1/', startHeight: 7, timestamp: 5, relay: false });
    expect(lines[2]).toMatchObject({
      count: 2,
      entries: [
        { time: 1, services: 1033, address: '1.2.3.4:18444', networkId: 1 },
        { time: 2, services: 0, address: 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333', networkId: 4 },
      ],
    });
  });

  it('reads hex from standard input and carries on after a dropped message', () => {
    const bad = encodeMessage(net, { command: 'ping', nonce: 1n });
    bad[23] = bad[23]! ^ 1;
    const hexText = Buffer.concat([bad, encodeMessage(net, { command: 'pong', nonce: 1n })]).toString('hex').replace(/(.{64})/g, '$1\n');
    const { code, lines } = decode(['-'], hexText);
    expect(code).toBe(1);
    expect(lines[0]).toMatchObject({ error: 'ERR_BAD_CHECKSUM', command: 'ping' });
    expect(lines[1]).toEqual({ command: 'pong', nonce: 1 });
  });

  it('stops with a final error line after a fatal error', () => {
    const header = frameMessage(net, 'block', Buffer.alloc(0));
    header.writeUInt32LE(4_000_001, 16);
    const { code, lines } = decode(['-'], Buffer.concat([encodeMessage(net, { command: 'verack' }), header, encodeMessage(net, { command: 'verack' })]));
    expect(code).toBe(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ error: 'ERR_MESSAGE_TOO_LARGE', command: 'block', fatal: true });
  });

  it('honours --network and reports a magic from another network as fatal', () => {
    const file = join(dir, 'main.bin');
    writeFileSync(file, encodeMessage(NETWORKS.mainnet, { command: 'verack' }));
    expect(decode([file]).lines).toEqual([{ command: 'verack' }]);
    const { code, lines } = decode([file, '--network', 'regtest']);
    expect(code).toBe(1);
    expect(lines[0]).toMatchObject({ error: 'ERR_BAD_MAGIC', fatal: true });
  });

  it('reports input that ends inside a message', () => {
    const { code, lines } = decode(['-'], stream.subarray(0, stream.length - 3));
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatchObject({ error: 'ERR_TRUNCATED' });
  });

  it('prints help, and exits 2 with a clear message on bad arguments', () => {
    const help = spawnSync(process.execPath, [CLI, 'decode', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: bitspread decode/);
    const none = decode([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/expected exactly one input/);
    const badNet = decode(['x', '--network', 'moon']);
    expect(badNet.code).toBe(2);
    expect(badNet.stderr).toMatch(/unknown network 'moon'/);
    const missing = decode([join(dir, 'does-not-exist')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
    const unknownOption = decode(['--frobnicate']);
    expect(unknownOption.code).toBe(2);
  });
});
