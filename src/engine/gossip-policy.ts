/**
 * What the crawl accepts from gossip: the bounds that keep one source from
 * filling the frontier (issue 11: a peer answering every getaddr with 1,000
 * fresh addresses it also serves grew the frontier to 10 M) or from turning
 * the crawler into a port scanner.
 *
 * For each NEW address a peer sends (addresses already known cost nothing):
 * 1. Source budgets, as Bitcoin Core's addrman bounds what one source group
 *    can put in its new table: at most `maxPerSource` new addresses credited
 *    to one learned-from peer (its address, so reconnects share it) and
 *    `maxPerSourceGroup` to all peers of one source netgroup (/16 IPv4, /32
 *    IPv6, shared/netgroup.ts). Over budget: dropped, not stored, counted.
 *    The group budget is what bounds a flood whose addresses serve more
 *    floods: every one of them sits in the attacker's own groups.
 * 2. Bad ports (Core's IsBadPort): stored and recorded `skipped` `bad-port`.
 * 3. At most `maxPortsPerHost` distinct ports per IP; more: `skipped`
 *    `port-limit`.
 * Seeds the user gives (and DNS seed answers) pass none of these checks, but
 * their ports count towards the per-host limit.
 */
import { parseAddress } from '../wire/index.js';
import type { AddressNetwork } from '../wire/types.js';
import { isBadPort } from '../shared/bad-ports.js';
import { netgroupOf } from '../shared/netgroup.js';

export const DEFAULT_MAX_PER_SOURCE = 2_500;
export const DEFAULT_MAX_PER_SOURCE_GROUP = 65_536;
export const DEFAULT_MAX_PORTS_PER_HOST = 3;

export interface GossipLimits {
  readonly maxPerSource: number;
  readonly maxPerSourceGroup: number;
  readonly maxPortsPerHost: number;
}

/** What to do with one new address. */
export type GossipVerdict = 'accept' | 'bad-port' | 'port-limit' | 'over-source' | 'over-group';

export interface GossipDrops {
  /** New addresses dropped: their learned-from peer had used its budget. */
  readonly perSource: number;
  /** New addresses dropped: their source's netgroup had used its budget. */
  readonly perSourceGroup: number;
}

interface SourceState {
  readonly group: string;
  credited: number;
}

export class GossipPolicy {
  private readonly sources = new Map<string, SourceState>();
  private readonly groups = new Map<string, number>();
  /** Distinct dialable ports seen per host text ("1.2.3.4", "[::1]"). */
  private readonly portsPerHost = new Map<string, number>();
  private droppedPerSource = 0;
  private droppedPerGroup = 0;

  constructor(private readonly limits: GossipLimits) {}

  /**
   * Judges one address `text` on `network` that `source` (the sending peer's
   * address text) sent and the frontier does not know yet. 'accept',
   * 'bad-port' and 'port-limit' are charged to the source (they are stored);
   * 'over-*' are counted as dropped.
   */
  judge(text: string, network: AddressNetwork, source: string): GossipVerdict {
    const s = this.sourceState(source);
    if (s.credited >= this.limits.maxPerSource) {
      this.droppedPerSource++;
      return 'over-source';
    }
    const inGroup = this.groups.get(s.group) ?? 0;
    if (inGroup >= this.limits.maxPerSourceGroup) {
      this.droppedPerGroup++;
      return 'over-group';
    }
    s.credited++;
    this.groups.set(s.group, inGroup + 1);
    if (network !== 'ipv4' && network !== 'ipv6') return 'accept';
    const colon = text.lastIndexOf(':');
    if (isBadPort(Number(text.slice(colon + 1)))) return 'bad-port';
    const host = text.slice(0, colon);
    const ports = this.portsPerHost.get(host) ?? 0;
    if (ports >= this.limits.maxPortsPerHost) return 'port-limit';
    this.portsPerHost.set(host, ports + 1);
    return 'accept';
  }

  /** A seed (new to the frontier): never refused, but its port counts for its host. */
  noteSeed(text: string, network: AddressNetwork): void {
    if (network !== 'ipv4' && network !== 'ipv6') return;
    const host = text.slice(0, text.lastIndexOf(':'));
    this.portsPerHost.set(host, (this.portsPerHost.get(host) ?? 0) + 1);
  }

  get drops(): GossipDrops {
    return { perSource: this.droppedPerSource, perSourceGroup: this.droppedPerGroup };
  }

  private sourceState(source: string): SourceState {
    let s = this.sources.get(source);
    if (s === undefined) {
      let group: string;
      try {
        group = netgroupOf(parseAddress(source));
      } catch {
        group = 'unknown';
      }
      s = { group, credited: 0 };
      this.sources.set(source, s);
    }
    return s;
  }
}
