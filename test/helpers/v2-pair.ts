/**
 * Two V2Transports wired together in memory (no sockets): each side's output
 * is handed to the other, cut into chunks as a test asks, until both are
 * quiet. What each side received is recorded in order.
 */
import type { WireError } from '../../src/errors.js';
import { NETWORKS } from '../../src/wire/index.js';
import type { Message, NetworkParams } from '../../src/wire/index.js';
import { V2Transport, type V2Role, type V2TransportOptions } from '../../src/wire/v2/index.js';

export interface Received {
  kind: 'message' | 'error';
  msg?: Message;
  code?: string;
  fatal?: boolean;
}

export interface Endpoint {
  readonly t: V2Transport;
  /** Bytes this side wrote and the other has not read yet. */
  readonly out: Buffer[];
  readonly received: Received[];
  readonly versionPackets: number[];
  ready: boolean;
  v1: Buffer | null;
  /** Queues a message (as a packet) for the other side. */
  send(msg: Message): void;
  /** Queues raw bytes (tampered packets, hand-made frames). */
  write(bytes: Uint8Array): void;
  /** Takes everything queued, as one buffer. */
  drain(): Buffer;
  errors(): { code: string; fatal: boolean }[];
  messages(): Message[];
}

export function endpoint(role: V2Role, options: V2TransportOptions = {}, net: NetworkParams = NETWORKS.mainnet): Endpoint {
  const out: Buffer[] = [];
  const received: Received[] = [];
  const versionPackets: number[] = [];
  const e: Endpoint = {
    t: undefined as unknown as V2Transport,
    out,
    received,
    versionPackets,
    ready: false,
    v1: null,
    send(msg) {
      out.push(e.t.sendMessage(msg));
    },
    write(bytes) {
      out.push(Buffer.from(bytes));
    },
    drain() {
      const all = Buffer.concat(out);
      out.length = 0;
      return all;
    },
    errors: () => received.filter((r) => r.kind === 'error').map((r) => ({ code: r.code!, fatal: r.fatal! })),
    messages: () => received.filter((r) => r.kind === 'message').map((r) => r.msg!),
  };
  (e as { t: V2Transport }).t = new V2Transport(net, role, {
    send: (data) => out.push(Buffer.from(data)),
    onReady: () => {
      e.ready = true;
    },
    onV1Peer: (bytes) => {
      e.v1 = Buffer.from(bytes);
    },
    onVersionPacket: (length) => versionPackets.push(length),
    onMessage: (msg) => received.push({ kind: 'message', msg }),
    onMessageError: (err: WireError, _command, fatal) => received.push({ kind: 'error', code: err.code, fatal }),
  }, options);
  return e;
}

/** Cuts `bytes` into pieces whose sizes cycle through `sizes` (all of it at once when empty). */
export function chunks(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  if (sizes.length === 0) return [bytes];
  const res: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    res.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return res;
}

/**
 * Delivers each side's output to the other until neither has anything left.
 * Chunks are copied into one reused buffer before each push, as the worker's
 * shared read buffer does, so a transport that kept a view would break.
 */
export function pump(a: Endpoint, b: Endpoint, sizes: readonly number[] = []): void {
  const scratch = Buffer.alloc(1 << 16);
  const feed = (to: Endpoint, bytes: Buffer): void => {
    for (const piece of chunks(bytes, sizes)) {
      for (let o = 0; o < piece.length; o += scratch.length) {
        const part = piece.subarray(o, o + scratch.length);
        part.copy(scratch);
        to.t.push(scratch, part.length);
        scratch.fill(0xa5, 0, part.length);
      }
    }
  };
  for (let rounds = 0; rounds < 1000 && (a.out.length > 0 || b.out.length > 0); rounds++) {
    if (a.out.length > 0) feed(b, a.drain());
    if (b.out.length > 0) feed(a, b.drain());
  }
}

/** An initiator and a responder after a full handshake. */
export function connectedPair(initiator: V2TransportOptions = {}, responder: V2TransportOptions = {}): { i: Endpoint; r: Endpoint } {
  const i = endpoint('initiator', initiator);
  const r = endpoint('responder', responder);
  i.t.start();
  pump(i, r);
  return { i, r };
}
