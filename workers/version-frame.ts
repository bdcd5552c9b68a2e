/**
 * Our version message, encoded once per thread and network. Every peer gets
 * a copy with its own timestamp and nonce and a fresh checksum: the fields
 * around them (protocol version, services, empty addresses, user agent,
 * height, relay) never change, and encoding them through the generic writer
 * for every dial was a visible share of a worker's time.
 */
import { CHECKSUM_OFFSET, encodeMessage, HEADER_SIZE, makeVersion, netAddressToV1, sha256d, type NetAddress, type NetworkParams } from '../src/wire/index.js';

/** What we announce; one place, shared with the generic encoder the template is built from. */
export interface OurVersionFields {
  readonly version: number;
  readonly userAgent: string;
}

/** Payload offsets: version 4, services 8, then the 8-byte timestamp. */
const TIMESTAMP_AT = HEADER_SIZE + 4 + 8;
/** ... addr_recv (26: services 8, address 16, port 2) and addr_from (26) after it, then the 8-byte nonce. */
const ADDR_RECV_AT = TIMESTAMP_AT + 8;
const NONCE_AT = TIMESTAMP_AT + 8 + 26 + 26;

const templates = new WeakMap<NetworkParams, Buffer>();

function template(net: NetworkParams, fields: OurVersionFields): Buffer {
  let t = templates.get(net);
  if (t === undefined) {
    const payload = makeVersion({ version: fields.version, services: 0n, userAgent: fields.userAgent, relay: false, startHeight: 0, timestamp: 0n, nonce: 0n });
    templates.set(net, (t = encodeMessage(net, { command: 'version', payload })));
  }
  return t;
}

/**
 * The framed version message with `timestampSeconds` and `nonce`, and
 * addr_recv set to `peer` (the address we dialled), as Core's PushNodeVersion
 * sends the address it sees for the peer; its services stay 0 (we dial by
 * address and do not know what gossip said about them). Without `peer`:
 * the all-zero `[::]:0`. The fields must be the same on every call in a
 * thread (they are: the crawler announces one identity).
 */
export function ourVersionFrame(net: NetworkParams, fields: OurVersionFields, timestampSeconds: number, nonce: bigint, peer?: NetAddress): Buffer {
  const t = template(net, fields);
  const frame = Buffer.allocUnsafe(t.length);
  t.copy(frame);
  if (peer !== undefined && (peer.network === 'ipv4' || peer.network === 'ipv6')) {
    frame.set(netAddressToV1(peer), ADDR_RECV_AT + 8);
    frame.writeUInt16BE(peer.port, ADDR_RECV_AT + 24);
  }
  frame.writeUInt32LE(timestampSeconds >>> 0, TIMESTAMP_AT);
  frame.writeUInt32LE(Math.floor(timestampSeconds / 0x1_0000_0000), TIMESTAMP_AT + 4);
  frame.writeBigUInt64LE(nonce, NONCE_AT);
  sha256d(frame.subarray(HEADER_SIZE)).copy(frame, CHECKSUM_OFFSET, 0, 4);
  return frame;
}
