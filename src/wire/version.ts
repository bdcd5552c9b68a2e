/**
 * The `version` payload, read exactly as Core 31.x reads it
 * (net_processing.cpp:3600-3647): every field after addr_recv is optional and
 * read only if bytes remain; addr_from and the nonce come as one block.
 */
import { WireError } from '../errors.js';
import { MAX_SUBVERSION_LENGTH, PROTOCOL_VERSION } from './constants.js';
import { netAddressFromV1, netAddressToV1 } from './address.js';
import { PayloadReader } from './reader.js';
import { userAgentBytes, userAgentText } from './user-agent.js';
import type { PayloadWriter } from './writer.js';
import type { NetAddress, VersionAddress, VersionPayload } from './types.js';

export const DEFAULT_USER_AGENT = '/bitspread:0.1.0/';

function readVersionAddress(r: PayloadReader, which: string): VersionAddress {
  const services = r.u64le(`${which}.services`);
  r.need(18, `${which} address and port`);
  const raw = r.bytes(16, `${which}.address`);
  const port = r.u16be(`${which}.port`);
  return { services, address: netAddressFromV1(raw, 0, port), raw, port };
}

export function decodeVersion(p: Uint8Array): VersionPayload {
  const r = new PayloadReader(p, 'version');
  const version = r.i32le('version');
  const services = r.u64le('services');
  const rawTime = r.i64le('timestamp');
  // Core clamps a negative time to 0 on receipt.
  const timestamp = rawTime < 0n ? 0n : rawTime;
  const addrRecv = readVersionAddress(r, 'addr_recv');
  let addrFrom: VersionAddress | undefined;
  let nonce: bigint | undefined;
  let userAgent: string | undefined;
  let startHeight: number | undefined;
  let relay: boolean | undefined;
  if (r.remaining > 0) {
    addrFrom = readVersionAddress(r, 'addr_from');
    nonce = r.u64le('nonce');
  }
  if (r.remaining > 0) {
    const len = r.compactSize('user agent length');
    if (len > MAX_SUBVERSION_LENGTH) {
      throw new WireError('ERR_USER_AGENT_TOO_LONG', `version: user agent of ${len} bytes > ${MAX_SUBVERSION_LENGTH}`);
    }
    r.need(len, 'user agent');
    userAgent = userAgentText(p.subarray(r.pos, r.pos + len));
    r.pos += len;
  }
  if (r.remaining > 0) startHeight = r.i32le('start_height');
  if (r.remaining > 0) relay = r.u8('relay') !== 0;
  // Bytes after relay are ignored, as Core does: the version message has always
  // grown by appending fields, and refusing them would lose a node's record.
  const out: { -readonly [K in keyof VersionPayload]: VersionPayload[K] } = { version, services, timestamp, addrRecv };
  if (addrFrom !== undefined) out.addrFrom = addrFrom;
  if (nonce !== undefined) out.nonce = nonce;
  if (userAgent !== undefined) out.userAgent = userAgent;
  if (startHeight !== undefined) out.startHeight = startHeight;
  if (relay !== undefined) out.relay = relay;
  return out;
}

const ZERO16 = new Uint8Array(16);

function writeVersionAddress(w: PayloadWriter, a: VersionAddress | undefined): void {
  if (a === undefined) {
    w.u64le(0n);
    w.bytes(ZERO16);
    w.u16be(0);
    return;
  }
  w.u64le(a.services);
  if (a.address !== null) {
    w.bytes(netAddressToV1(a.address));
  } else {
    if (!(a.raw instanceof Uint8Array) || a.raw.length !== 16) throw new WireError('ERR_UNENCODABLE', 'version: an address field needs 16 raw bytes');
    w.bytes(a.raw);
  }
  w.u16be(a.port);
}

/**
 * Writes the fields up to the last one present; an absent field before that
 * is written with its zero value (addr_from and nonce always go together).
 */
export function encodeVersion(w: PayloadWriter, v: VersionPayload): void {
  w.i32le(v.version);
  w.u64le(v.services);
  w.i64le(v.timestamp);
  writeVersionAddress(w, v.addrRecv);
  const hasRelay = v.relay !== undefined;
  const hasHeight = hasRelay || v.startHeight !== undefined;
  const hasAgent = hasHeight || v.userAgent !== undefined;
  const hasNonce = hasAgent || v.nonce !== undefined || v.addrFrom !== undefined;
  if (hasNonce) {
    writeVersionAddress(w, v.addrFrom);
    w.u64le(v.nonce ?? 0n);
  }
  if (hasAgent) {
    const agent = userAgentBytes(v.userAgent ?? '');
    if (agent.length > MAX_SUBVERSION_LENGTH) {
      throw new WireError('ERR_USER_AGENT_TOO_LONG', `version: user agent of ${agent.length} bytes > ${MAX_SUBVERSION_LENGTH}`);
    }
    w.compactSize(agent.length);
    w.bytes(agent);
  }
  if (hasHeight) w.i32le(v.startHeight ?? 0);
  if (hasRelay) w.bool(v.relay === true);
}

/**
 * A version address field for `address`. null gives the all-zero field Core
 * sends when it has no address; it reads back as the IPv6 `::` (port 0), which
 * isAddressValid() rejects.
 */
export function versionAddress(address: NetAddress | null, services = 0n): VersionAddress {
  if (address === null) return { services, address: { network: 'ipv6', bytes: new Uint8Array(16), port: 0 }, raw: new Uint8Array(16), port: 0 };
  return { services, address, raw: netAddressToV1(address), port: address.port };
}

/**
 * A random 64-bit nonce, never zero (a zero ping nonce means "no nonce" to
 * Core; Core uses the version nonce to detect connecting to itself). Built
 * from two Math.random words: a nonce has to differ between connections, not
 * be secret, and a crypto call per dial was a visible share of a worker's time.
 */
export function randomNonce(): bigint {
  return BigInt(randomWord() || 1) * 0x1_0000_0000n + BigInt(randomWord());
}

function randomWord(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

/**
 * A complete version payload with sensible defaults: PROTOCOL_VERSION, no
 * services, now, zero addresses, a random nonce, our user agent, height 0 and
 * relay=false (a crawler wants no tx inv traffic; Core master may also evict
 * inbound relay peers first).
 */
export function makeVersion(opts: Partial<VersionPayload> & { startHeight?: number } = {}): VersionPayload {
  return {
    version: opts.version ?? PROTOCOL_VERSION,
    services: opts.services ?? 0n,
    timestamp: opts.timestamp ?? BigInt(Math.floor(Date.now() / 1000)),
    addrRecv: opts.addrRecv ?? versionAddress(null),
    addrFrom: opts.addrFrom ?? versionAddress(null),
    nonce: opts.nonce ?? randomNonce(),
    userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
    startHeight: opts.startHeight ?? 0,
    relay: opts.relay ?? false,
  };
}
