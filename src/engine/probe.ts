/**
 * `probeNode`: a one-off visit of a single node (handshake, getaddr) and the
 * record a crawl would write for it, without a crawler. The visit runs where
 * every socket runs, in a worker thread: a pool of one thread started for
 * it and closed after, with the same allow-list check at the dial site and
 * the same peer cap (pass a running crawler's `cap` to count against it).
 * A thread start costs tens of milliseconds: to connect to many nodes, use a
 * running Crawler's connectToNode.
 */
import { PeerError, UsageError, type PeerErrorCode } from '../errors.js';
import { formatAddress, NETWORKS, parseAddress } from '../wire/index.js';
import type { AddressNetwork, NetworkName } from '../wire/types.js';
import { AllowList } from '../shared/allow-list.js';
import { PeerCap } from '../shared/peer-cap.js';
import type { PeerTimeouts } from '../shared/messages.js';
import { DEFAULT_ADDR_QUIET_MS, DEFAULT_MAX_PEERS, DEFAULT_STEP_TIMEOUT_MS, defaultTickMs } from './options.js';
import { failedRecord, reachableRecord, type NodeRecord } from './record.js';
import { PeerWorkerPool, PROBE_CAP_SLOT } from './worker-pool.js';
import { advertisesV2, dialTransport, parseTransportOption, type TransportOption } from '../shared/transport.js';

export interface ProbeOptions {
  readonly network?: NetworkName;
  /** Allow-list CIDRs; required unless allowAny is set explicitly. */
  readonly only?: readonly string[];
  readonly allowAny?: boolean;
  /** A shared cap (e.g. a running crawler's `cap`); default a private cap of maxPeers (default 125). */
  readonly cap?: PeerCap;
  readonly maxPeers?: number;
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly getaddrTimeoutMs?: number;
  readonly addrQuietMs?: number;
  /** pino level of the worker thread's log (default 'silent'). */
  readonly logLevel?: string;
  /** 'auto' (default): v2 when `services` has NODE_P2P_V2, with Core's v1 fallback; 'v1'; 'v2' (no fallback). */
  readonly transport?: TransportOption;
  /** The node's services as gossip gave them, if known (decides an `auto` dial). */
  readonly services?: bigint | number;
}

/** One learned address: Core text form and its network. */
export type LearnedAddress = readonly [text: string, network: AddressNetwork];

export interface ProbeResult extends NodeRecord {
  /** Every address the node sent (text form, network). */
  readonly learned: readonly LearnedAddress[];
}

/**
 * Resolves with the node's record (`reachable` or `failed` with a code).
 * Rejects with a PeerError when no socket may be opened at all:
 * ERR_NOT_ALLOWED (outside the allow-list) or ERR_MAX_PEERS (cap reached);
 * with a UsageError or WireError for bad options or a bad address.
 */
export async function probeNode(addrText: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const only = opts.only ?? [];
  if (only.length === 0 && opts.allowAny !== true) {
    throw new UsageError('ERR_BAD_OPTION', 'an allow-list is required: give `only` CIDRs (or set allowAny explicitly)');
  }
  const network = opts.network ?? 'mainnet';
  const net = NETWORKS[network];
  if (net === undefined) throw new UsageError('ERR_BAD_OPTION', `network: unknown network '${String(network)}'`);
  const allow = opts.allowAny === true ? null : AllowList.parse(only);
  const transport = parseTransportOption(opts.transport);
  const parsed = parseAddress(addrText, net.defaultPort);
  const addr = formatAddress(parsed);
  // The worker checks again at the dial; refusing here saves a thread start.
  if (allow !== null && !allow.allows(parsed)) throw new PeerError('ERR_NOT_ALLOWED', `${addr} is outside the allow-list`);
  const step = opts.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const timeouts: PeerTimeouts = {
    connectMs: opts.connectTimeoutMs ?? step,
    handshakeMs: opts.handshakeTimeoutMs ?? step,
    getaddrMs: opts.getaddrTimeoutMs ?? step,
    addrQuietMs: opts.addrQuietMs ?? DEFAULT_ADDR_QUIET_MS,
    adaptiveQuiet: opts.addrQuietMs === undefined,
    pingIntervalMs: 120_000,
    pingTimeoutMs: 20 * 60_000,
  };
  const learned: LearnedAddress[] = [];
  const pool = new PeerWorkerPool({
    workers: 1,
    cap: opts.cap ?? PeerCap.create(opts.maxPeers ?? DEFAULT_MAX_PEERS),
    slot: PROBE_CAP_SLOT,
    session: {
      network,
      allow: only,
      allowAny: opts.allowAny === true,
      mode: 'crawl',
      timeouts,
      tickMs: defaultTickMs(timeouts),
      logLevel: opts.logLevel ?? 'silent',
      transport,
    },
    onAddrs: (_from, texts, networks) => {
      for (let i = 0; i < texts.length; i++) learned.push([texts[i] as string, networks[i] as AddressNetwork]);
      return null;
    },
    onBatch: () => undefined,
    onCrash: () => undefined,
  });
  try {
    const end = await pool.visit(addr, undefined, dialTransport(transport, opts.services === undefined ? undefined : advertisesV2(opts.services)));
    const { info, error } = end;
    if (info !== undefined) return { ...reachableRecord(addr, parsed.network, info, end.how), learned };
    if (error !== undefined && (error.code === 'ERR_NOT_ALLOWED' || error.code === 'ERR_MAX_PEERS')) {
      throw new PeerError(error.code as PeerErrorCode, error.message);
    }
    return { ...failedRecord(addr, parsed.network, error?.code ?? 'ERR_PEER_CLOSED', error?.detail, end.how), learned };
  } finally {
    await pool.close();
  }
}
