/**
 * An authoritative DNS server for the DNS-seed tests, on 127.0.0.1, UDP and
 * TCP on the same port. Packets are read and written by `dns-packet` (the
 * packet codec of the mdns/bonjour ecosystem); only the socket plumbing is
 * here. Names can answer records, NXDOMAIN, SERVFAIL, REFUSED, nothing at
 * all (a timeout) or garbage; any name whose answer holds more than
 * `truncateOver` records is sent over UDP as an empty answer with TC set,
 * so a client must come back over TCP for the records.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';

export type Behaviour = 'nxdomain' | 'servfail' | 'refused' | 'silent' | 'garbage';

export interface Zone {
  /** Lowercase name without trailing dot → its A / AAAA records, or a behaviour. */
  readonly [name: string]: { a?: string[]; aaaa?: string[] } | Behaviour;
}

export interface TestDnsServer {
  /** "127.0.0.1:port", the form --dns-server takes. */
  readonly address: string;
  readonly port: number;
  /** Every question asked: `udp name A` / `tcp name AAAA`. */
  readonly queries: string[];
  close(): Promise<void>;
}

const RCODE = { nxdomain: 3, servfail: 2, refused: 5 } as const;

export async function startDnsSeedServer(zone: Zone, opts: { truncateOver?: number } = {}): Promise<TestDnsServer> {
  const truncateOver = opts.truncateOver ?? Infinity;
  const queries: string[] = [];
  const sockets = new Set<Socket>();

  const answer = (query: Buffer, transport: 'udp' | 'tcp'): Buffer | null => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(query);
    } catch {
      return null;
    }
    const question = q.questions?.[0];
    if (question === undefined) return null;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    queries.push(`${transport} ${name} ${question.type}`);
    const entry = zone[name];
    if (entry === 'silent') return null;
    if (entry === 'garbage') return Buffer.from([0xde, 0xad]);
    const base = { type: 'response' as const, id: q.id ?? 0, questions: [question] };
    if (entry === undefined || typeof entry === 'string') {
      const rcode = entry === undefined ? RCODE.nxdomain : RCODE[entry];
      return dnsPacket.encode({ ...base, flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode, answers: [] });
    }
    const ips = question.type === 'A' ? (entry.a ?? []) : question.type === 'AAAA' ? (entry.aaaa ?? []) : [];
    const answers = ips.map((data) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: 60, class: 'IN' as const, data }));
    if (transport === 'udp' && answers.length > truncateOver) {
      return dnsPacket.encode({ ...base, flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    }
    return dnsPacket.encode({ ...base, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers });
  };

  const tcp: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const reply = answer(buf.subarray(2, 2 + len), 'tcp');
        buf = buf.subarray(2 + len);
        if (reply !== null) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          sock.write(framed);
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (tcp.address() as { port: number }).port;
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const reply = answer(msg, 'udp');
    if (reply !== null) udp.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => tcp.close(() => r())), new Promise<void>((r) => udp.close(() => r()))]);
    },
  };
}
