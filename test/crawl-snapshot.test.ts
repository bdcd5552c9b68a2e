import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { failedRecord, formatSummary, reachableRecord, skippedRecord, SummaryCollector, type NodeRecord } from '../src/engine/record.js';
import { recordToLine, SnapshotWriter } from '../src/engine/snapshot.js';

const info = {
  protocolVersion: 70016,
  userAgent: '/Satoshi:27.0.0/',
  services: 1033,
  startHeight: 812345,
  relay: true,
  connectMs: 3,
  handshakeMs: 7,
  addrsReturned: 250,
};

describe('snapshot writer', () => {
  it('writes one complete JSON object per line with the documented fields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitspread-snap-'));
    const file = join(dir, 'crawl.ndjson');
    const w = new SnapshotWriter(file);
    w.write(reachableRecord('127.0.0.1:18444', 'ipv4', info));
    w.write(failedRecord('[::1]:18444', 'ipv6', 'ERR_CONNECTION_REFUSED'));
    w.write(skippedRecord('a'.repeat(56) + '.onion:8333', 'onion', 'no-route'));
    await w.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    const recs = lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs).toEqual([
      // 1033 = 0x409: NETWORK | WITNESS | NETWORK_LIMITED.
      { addr: '127.0.0.1:18444', network: 'ipv4', state: 'reachable', via: 'direct', ...info, serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED'] },
      { addr: '[::1]:18444', network: 'ipv6', state: 'failed', error: 'ERR_CONNECTION_REFUSED', via: 'direct' },
      { addr: 'a'.repeat(56) + '.onion:8333', network: 'onion', state: 'skipped', reason: 'no-route' },
    ]);
    expect(w.lines).toBe(3);
  });

  it('keeps a fixed key order whatever order the record was built in', () => {
    const line = recordToLine({ state: 'failed', error: 'ERR_PROTOCOL', network: 'ipv4', addr: '127.0.0.9:1' });
    expect(line).toBe('{"addr":"127.0.0.9:1","network":"ipv4","state":"failed","error":"ERR_PROTOCOL"}\n');
  });

  it('keeps every field a record can carry: transport, v2 fallback and slot times included', () => {
    const rec = reachableRecord('127.0.0.9:8333', 'ipv4', { ...info, slotMs: 40, closeMs: 5, rttMs: 3, transport: 'v1', v2Fallback: true }, { via: 'direct', transport: 'v1', v2Fallback: true });
    const line = JSON.parse(recordToLine(rec)) as Record<string, unknown>;
    expect(line).toMatchObject({ transport: 'v1', v2Fallback: true, slotMs: 40, closeMs: 5, via: 'direct' });
    // Nothing the record holds is left out of its line.
    expect(Object.keys(line).sort()).toEqual(Object.keys(rec).filter((k) => rec[k as keyof NodeRecord] !== undefined).sort());
  });

  it('leaves a stream it did not open open, and ignores writes after close', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const w = new SnapshotWriter(out);
    w.write(failedRecord('127.0.0.1:1', 'ipv4', 'ERR_CONNECT_TIMEOUT'));
    await w.close();
    w.write(failedRecord('127.0.0.1:2', 'ipv4', 'ERR_CONNECT_TIMEOUT'));
    expect(out.writableEnded).toBe(false);
    expect(text.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unwritable path at once, with a typed error (not a late stream error)', () => {
    expect(() => new SnapshotWriter('/nonexistent-dir-bitspread/x.ndjson')).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_OPTION', message: expect.stringMatching(/cannot write the snapshot to '\/nonexistent-dir-bitspread\/x\.ndjson': ENOENT/) }),
    );
  });
});

describe('crawl summary', () => {
  it('counts by state, failure code, network, user agent and version', () => {
    const c = new SummaryCollector();
    c.add(reachableRecord('127.0.0.1:1', 'ipv4', info));
    c.add(reachableRecord('127.0.0.2:1', 'ipv4', { ...info, userAgent: '/btcd:0.24.0/', protocolVersion: 70015 }));
    c.add(reachableRecord('127.0.0.3:1', 'ipv4', info));
    c.add(failedRecord('127.0.0.4:1', 'ipv4', 'ERR_CONNECTION_REFUSED'));
    c.add(skippedRecord('b'.repeat(52) + '.b32.i2p:0', 'i2p', 'no-route'));
    const s = c.finish({ durationMs: 2000, peakOpen: 3, workerCrashes: 0, stopped: false });
    expect(s.total).toBe(5);
    expect(s.byState).toEqual({ reachable: 3, failed: 1, skipped: 1 });
    expect(s.byError).toEqual({ ERR_CONNECTION_REFUSED: 1 });
    expect(s.byNetwork).toEqual({ ipv4: 4, i2p: 1 });
    expect(s.topUserAgents[0]).toEqual(['/Satoshi:27.0.0/', 2]);
    expect(s.protocolVersions).toEqual([
      [70016, 2],
      [70015, 1],
    ]);
    expect(s.visitsPerSecond).toBe(2);
    const text = formatSummary(s);
    expect(text).toContain('reachable 3, failed 1, skipped 1');
    expect(text).toContain('ERR_CONNECTION_REFUSED 1');
    expect(s.byErrorDetail).toEqual({});
    expect(text).not.toContain('details:');
  });

  it('breaks failures down by their wire-level detail', () => {
    const c = new SummaryCollector();
    c.add(failedRecord('127.0.0.1:1', 'ipv4', 'ERR_PROTOCOL', 'ERR_BAD_MAGIC'));
    c.add(failedRecord('127.0.0.2:1', 'ipv4', 'ERR_PROTOCOL', 'ERR_BAD_MAGIC'));
    c.add(failedRecord('127.0.0.3:1', 'ipv4', 'ERR_PROTOCOL', 'ERR_MESSAGE_TOO_LARGE'));
    c.add(failedRecord('127.0.0.4:1', 'ipv4', 'ERR_HANDSHAKE_TIMEOUT', 'ERR_BAD_CHECKSUM'));
    c.add(failedRecord('127.0.0.5:1', 'ipv4', 'ERR_HANDSHAKE_TIMEOUT'));
    const s = c.finish({ durationMs: 1000, peakOpen: 5, workerCrashes: 0, stopped: false });
    expect(s.byError).toEqual({ ERR_PROTOCOL: 3, ERR_HANDSHAKE_TIMEOUT: 2 });
    expect(s.byErrorDetail).toEqual({
      'ERR_PROTOCOL/ERR_BAD_MAGIC': 2,
      'ERR_PROTOCOL/ERR_MESSAGE_TOO_LARGE': 1,
      'ERR_HANDSHAKE_TIMEOUT/ERR_BAD_CHECKSUM': 1,
    });
    expect(formatSummary(s)).toContain('details:  ERR_PROTOCOL/ERR_BAD_MAGIC 2, ERR_PROTOCOL/ERR_MESSAGE_TOO_LARGE 1, ERR_HANDSHAKE_TIMEOUT/ERR_BAD_CHECKSUM 1');
  });
});
