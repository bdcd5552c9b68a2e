/**
 * The main thread's per-network rules for the crawler: what is never dialled
 * (and why), and the per-network budgets of peers in flight inside the one
 * global cap. An address whose network is at its budget waits in that
 * network's own queue, so a full Tor budget never holds up IPv4 dials.
 */
import { PeerCap } from '../shared/peer-cap.js';
import type { AllowList } from '../shared/allow-list.js';
import { ADDRESS_NETWORKS, allowsDestination, clampOnionBudget, resolveBudgets, resolveReach, routeOf, type ReachConfig } from '../shared/reach.js';
import { Hygiene } from '../shared/routable.js';
import type { AddressNetwork, NetAddress } from '../wire/types.js';
import type { ResolvedOptions } from './options.js';
import type { SkipReason } from './record.js';

export interface NetworkLoad {
  readonly inFlight: number;
  readonly budget: number;
  readonly peak: number;
}

export class NetworkGate {
  readonly reach: ReachConfig;
  readonly budgets: Readonly<Record<AddressNetwork, number>>;
  /** One shared cap per Tor proxy: its budget across every worker. */
  readonly torProxyCaps: readonly PeerCap[];
  private readonly hygiene: Hygiene | null;
  private readonly inFlight: Record<AddressNetwork, number> = { ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 };
  private readonly peak: Record<AddressNetwork, number> = { ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 };
  /** Dispatched but not started yet (the supervisor calls start() when it will). */
  private readonly reserved: Record<AddressNetwork, number> = { ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 };
  private readonly waiting = new Map<AddressNetwork, string[]>();
  private waitingCount = 0;

  constructor(
    opts: ResolvedOptions,
    private readonly allow: AllowList | null,
    cap: number,
    deny: AllowList | null,
  ) {
    const budgets = resolveBudgets(cap, opts.budgets);
    this.reach = resolveReach(opts.reach, allow, opts.timeouts.connectMs, budgets.onion);
    this.budgets = clampOnionBudget(budgets, this.reach);
    this.torProxyCaps = this.reach.torProxies.map(() => PeerCap.create(this.reach.torProxyBudget));
    // Hygiene only where nothing else guards the dials: an explicit allow-list is the user's word.
    this.hygiene = allow === null ? new Hygiene({ deny, ...(opts.perNetgroup !== undefined ? { perNetgroup: opts.perNetgroup } : {}) }) : null;
  }

  /** Recorded at once when learned: no route to the network, or an I2P address with a port. */
  skipWhenLearned(network: AddressNetwork, port: number): SkipReason | null {
    const r = routeOf(this.reach, network, port);
    return 'skip' in r ? r.skip : null;
  }

  /** Checked when dispatched: the allow-list, then (under --allow-any) the hygiene rules. */
  skipWhenDispatched(addr: NetAddress): SkipReason | null {
    if (!allowsDestination(this.allow, addr.network, addr.bytes, addr.port)) return 'not-allowed';
    return this.hygiene?.admit(addr) ?? null;
  }

  hasRoom(network: AddressNetwork): boolean {
    return this.inFlight[network] + this.reserved[network] < this.budgets[network];
  }

  /** The dispatcher handed an address of `network` to the peers: hold its place until its visit starts. */
  reserve(network: AddressNetwork): void {
    this.reserved[network]++;
  }

  unreserve(network: AddressNetwork): void {
    this.reserved[network]--;
  }

  take(network: AddressNetwork): void {
    const n = ++this.inFlight[network];
    if (n > this.peak[network]) this.peak[network] = n;
  }

  give(network: AddressNetwork): void {
    this.inFlight[network]--;
  }

  /** Parks an address until its network has room. */
  wait(addr: string, network: AddressNetwork): void {
    let q = this.waiting.get(network);
    if (q === undefined) this.waiting.set(network, (q = []));
    q.push(addr);
    this.waitingCount++;
  }

  /** A parked address whose network now has room, if any. */
  nextWaiting(): string | undefined {
    if (this.waitingCount === 0) return undefined;
    for (const [network, q] of this.waiting) {
      if (q.length > 0 && this.hasRoom(network)) {
        this.waitingCount--;
        return q.shift();
      }
    }
    return undefined;
  }

  get waitingTotal(): number {
    return this.waitingCount;
  }

  /** Every parked address, removed (shutdown records them `stopped`). */
  drainWaiting(): string[] {
    const out = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.waitingCount = 0;
    return out;
  }

  load(): Record<AddressNetwork, NetworkLoad> {
    const out = {} as Record<AddressNetwork, NetworkLoad>;
    for (const n of ADDRESS_NETWORKS) out[n] = { inFlight: this.inFlight[n], budget: this.budgets[n], peak: this.peak[n] };
    return out;
  }
}
