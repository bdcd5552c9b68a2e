/**
 * A minimal DNS server on UDP loopback for --dns-seed tests: answers A
 * queries for the names it knows, an empty answer for everything else.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface TestDnsServer {
  readonly address: string; // "127.0.0.1:port"
  readonly queries: string[];
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length) {
    const len = msg[i] as number;
    if (len === 0) return { name: labels.join('.'), end: i + 1 };
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  throw new Error('truncated name');
}

export async function startDnsServer(records: Record<string, string[]>): Promise<TestDnsServer> {
  const queries: string[] = [];
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      const { name, end } = readName(msg, 12);
      const qtype = msg.readUInt16BE(end);
      queries.push(`${name}/${qtype}`);
      const ips = qtype === 1 ? (records[name.toLowerCase()] ?? []) : [];
      const header = Buffer.alloc(12);
      header.writeUInt16BE(msg.readUInt16BE(0), 0);
      header.writeUInt16BE(0x8180, 2);
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(ips.length, 6);
      const question = msg.subarray(12, end + 4);
      const answers = ips.map((ip) => {
        const a = Buffer.alloc(16);
        a.writeUInt16BE(0xc00c, 0);
        a.writeUInt16BE(1, 2);
        a.writeUInt16BE(1, 4);
        a.writeUInt32BE(60, 6);
        a.writeUInt16BE(4, 10);
        ip.split('.').forEach((o, k) => a.writeUInt8(Number(o), 12 + k));
        return a;
      });
      sock.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
    } catch {
      // a malformed query gets no answer
    }
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
