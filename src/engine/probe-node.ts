/**
 * One-shot visit of a single node on the caller's thread: handshake, getaddr,
 * and the NodeRecord a crawl would write for it. The same PeerConnection the
 * workers run, with the same allow-list check at the dial site and the same
 * cap (pass a shared `cap` to count against a running crawler's).
 */
import { pino, type Logger } from 'pino';
import { PeerError, UsageError } from '../errors.js';
import { formatAddress, NETWORKS, parseAddress } from '../wire/index.js';
import type { AddressNetwork, NetworkName } from '../wire/types.js';
import { PeerCap } from '../shared/peer-cap.js';
import { AllowList } from '../shared/allow-list.js';
import { DEFAULT_ADDR_QUIET_MS, DEFAULT_MAX_PEERS, DEFAULT_STEP_TIMEOUT_MS } from './options.js';
import { PeerConnection, type PeerHost } from '../../workers/peer-connection.js';
import type { LearnedAddress, PeerEvent, PeerTimeouts } from '../shared/messages.js';
import { failedRecord, reachableRecord, type NodeRecord } from './record.js';
import { DeadlineTicker } from '../../workers/ticker.js';

/** The cap slot main-thread connections count under (worker sessions use the others). */
export const MAIN_THREAD_CAP_SLOT = 255;

export interface ConnectOptions {
  readonly network?: NetworkName;
  /** Allow-list CIDRs; required unless allowAny is set explicitly. */
  readonly only?: readonly string[];
  readonly allowAny?: boolean;
  /** A shared cap; default a private cap of maxPeers (default 125). */
  readonly cap?: PeerCap;
  readonly maxPeers?: number;
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly getaddrTimeoutMs?: number;
  readonly addrQuietMs?: number;
  readonly logger?: Logger;
}

export interface ConnectResult extends NodeRecord {
  /** Every address the node sent (text form, network). */
  readonly learned: readonly LearnedAddress[];
}

/**
 * Resolves with the node's record (`reachable` or `failed` with a code).
 * Rejects with a PeerError when no socket may be opened at all:
 * ERR_NOT_ALLOWED (outside the allow-list) or ERR_MAX_PEERS (cap reached).
 */
export function connectToNode(addrText: string, opts: ConnectOptions = {}): Promise<ConnectResult> {
  const only = opts.only ?? [];
  if (only.length === 0 && opts.allowAny !== true) {
    return Promise.reject(new UsageError('ERR_BAD_OPTION', 'an allow-list is required: give `only` CIDRs (or set allowAny explicitly)'));
  }
  let allow: AllowList | null;
  let addr;
  const net = NETWORKS[opts.network ?? 'mainnet'];
  try {
    allow = opts.allowAny === true ? null : AllowList.parse(only);
    addr = formatAddress(parseAddress(addrText, net.defaultPort));
  } catch (err) {
    return Promise.reject(err);
  }
  const step = opts.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const timeouts: PeerTimeouts = {
    connectMs: opts.connectTimeoutMs ?? step,
    handshakeMs: opts.handshakeTimeoutMs ?? step,
    getaddrMs: opts.getaddrTimeoutMs ?? step,
    addrQuietMs: opts.addrQuietMs ?? DEFAULT_ADDR_QUIET_MS,
    pingIntervalMs: 120_000,
    pingTimeoutMs: 20 * 60_000,
  };
  const network = parseAddress(addr).network;
  return new Promise<ConnectResult>((resolve, reject) => {
    const learned: LearnedAddress[] = [];
    const ticker = new DeadlineTicker(50);
    const host: PeerHost = {
      net,
      cap: opts.cap ?? PeerCap.create(opts.maxPeers ?? DEFAULT_MAX_PEERS),
      slot: MAIN_THREAD_CAP_SLOT,
      allow,
      mode: 'crawl',
      timeouts,
      ticker,
      log: opts.logger ?? pino({ level: 'silent' }),
      emit(ev: PeerEvent): void {
        if (ev.kind === 'addrs') {
          for (let i = 0; i < ev.texts.length; i++) learned.push([ev.texts[i] as string, ev.networks[i] as AddressNetwork]);
        } else if (ev.kind === 'end') {
          ticker.stop();
          if (ev.error !== undefined && ev.info === undefined && (ev.error.code === 'ERR_NOT_ALLOWED' || ev.error.code === 'ERR_MAX_PEERS')) {
            reject(new PeerError(ev.error.code, ev.error.message));
          } else if (ev.info !== undefined) {
            resolve({ ...reachableRecord(addr, network, ev.info), learned });
          } else {
            resolve({ ...failedRecord(addr, network, ev.error?.code ?? 'ERR_PEER_CLOSED'), learned });
          }
        }
      },
      closed(): void {},
    };
    PeerConnection.dial(host, addr);
  });
}
