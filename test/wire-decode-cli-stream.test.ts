/**
 * `bitspread decode -` on a live pipe: binary input is decoded as it
 * arrives, so each message's line appears before the next message is even
 * written (through the built CLI; npm test builds first).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NETWORKS, encodeMessage, parseAddress } from '../src/wire/index.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const net = NETWORKS.regtest;
const dir = mkdtempSync(join(tmpdir(), 'bitspread-decode-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the CLI on a pipe; `nextLine()` resolves with the next JSON line printed. */
function startDecode(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'decode', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: ((l: Record<string, unknown>) => void)[] = [];
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    pending += text;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const obj = JSON.parse(pending.slice(0, nl)) as Record<string, unknown>;
      pending = pending.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(obj);
      else lines.push(obj);
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const nextLine = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const ready = lines.shift();
      if (ready) return resolve(ready);
      const timer = setTimeout(() => reject(new Error('no line within 10 s: the decoder is not streaming')), 10_000);
      waiters.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  return { child, nextLine, exit };
}

describe('bitspread decode (streaming)', () => {
  it('prints each message from a pipe as soon as it is complete, before more input arrives', async () => {
    const { child, nextLine, exit } = startDecode(['-']);
    const verack = encodeMessage(net, { command: 'verack' });
    const addr = encodeMessage(net, { command: 'addr', entries: [{ time: 9, services: 1n, address: parseAddress('10.0.0.1:18444'), networkId: 1 }] });
    child.stdin.write(verack);
    expect(await nextLine()).toEqual({ command: 'verack' });
    // A message split across writes: nothing until its last byte.
    child.stdin.write(addr.subarray(0, 30));
    await new Promise((r) => setTimeout(r, 100));
    child.stdin.write(addr.subarray(30));
    expect(await nextLine()).toMatchObject({ command: 'addr', count: 1, entries: [{ address: '10.0.0.1:18444', time: 9 }] });
    child.stdin.end(encodeMessage(net, { command: 'ping', nonce: 5n }));
    expect(await nextLine()).toEqual({ command: 'ping', nonce: 5 });
    expect(await exit).toBe(0);
  });

  it('recognises the network from the magic even when it arrives a byte at a time', async () => {
    const { child, nextLine, exit } = startDecode(['-']);
    const frame = encodeMessage(NETWORKS.signet, { command: 'pong', nonce: 7n });
    for (let i = 0; i < 6; i++) {
      child.stdin.write(frame.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 10));
    }
    child.stdin.end(frame.subarray(6));
    expect(await nextLine()).toEqual({ command: 'pong', nonce: 7 });
    expect(await exit).toBe(0);
  });

  it('decodes a binary file larger than one read, with a message straddling the read boundary', async () => {
    const ping = (n: number) => encodeMessage(net, { command: 'ping', nonce: BigInt(n) });
    const frames = Array.from({ length: 3000 }, (_, i) => ping(i)); // 32 bytes each: 96,000 bytes, > 64 KiB
    const file = join(dir, 'big.bin');
    writeFileSync(file, Buffer.concat(frames));
    const { nextLine, exit } = startDecode([file]);
    for (let i = 0; i < 3000; i++) expect(await nextLine()).toEqual({ command: 'ping', nonce: i });
    expect(await exit).toBe(0);
  });
});
