// The comparison crawlers in bench/ share one crawl loop; its guard is what
// keeps every benchmark on loopback, so it is tested like product code.
import { describe, expect, it } from 'vitest';
import { crawlWith, parseLoopback, type LoopbackTarget, type VisitResult } from '../bench/crawl-loop.mjs';

describe('bench crawl loop', () => {
  it('accepts only 127.0.0.0/8 IPv4 with a valid port', () => {
    expect(parseLoopback('127.100.0.2:18444')).toEqual({ host: '127.100.0.2', port: 18444 });
    expect(parseLoopback('127.255.255.255:1')).toEqual({ host: '127.255.255.255', port: 1 });
    for (const text of ['10.0.0.1:8333', '192.168.1.1:8333', '8.8.8.8:53', '128.0.0.1:8333', '126.255.255.255:8333', '[::1]:8333', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.256:8333', '127.0.0.1', 'localhost:8333', '0127.0.0.1:8333']) {
      expect(parseLoopback(text), text).toBeNull();
    }
  });

  it('never dials an address outside 127.0.0.0/8, even when peers advertise one', async () => {
    const dialled: string[] = [];
    const visit = async (t: LoopbackTarget): Promise<VisitResult> => {
      dialled.push(t.text);
      if (t.text === '127.0.0.1:1000') return { ok: true, info: {}, addrs: ['127.0.0.2:1000', '10.1.2.3:8333', '93.184.216.34:8333', '[2001:db8::1]:8333', '127.0.0.2:1000'] };
      if (t.text === '127.0.0.2:1000') return { ok: true, info: {}, addrs: ['127.0.0.3:1000', '192.168.0.1:8333'] };
      return { ok: false, code: 'ERR_CONNECTION_REFUSED' };
    };

    const r = await crawlWith(visit, { seeds: ['127.0.0.1:1000', '172.16.0.1:8333'], concurrency: 2 });

    expect(dialled.sort()).toEqual(['127.0.0.1:1000', '127.0.0.2:1000', '127.0.0.3:1000']);
    expect(r.reachable.map((n) => n.addr).sort()).toEqual(['127.0.0.1:1000', '127.0.0.2:1000']);
    expect(r.failed).toEqual([{ addr: '127.0.0.3:1000', code: 'ERR_CONNECTION_REFUSED' }]);
    expect(r.refused).toBe(5);
    expect(r.known).toBe(8);
  });

  it('stops by itself after maxNodes dials', async () => {
    let n = 0;
    const visit = async (): Promise<VisitResult> => {
      n++;
      return { ok: true, info: {}, addrs: [`127.1.${n >> 8}.${n & 255}:1`, `127.2.${n >> 8}.${n & 255}:1`] };
    };
    const r = await crawlWith(visit, { seeds: ['127.0.0.1:1'], concurrency: 4, maxNodes: 50 });
    expect(n).toBe(50);
    expect(r.reachable).toHaveLength(50);
  });
});
