/**
 * The crawl frontier: every address the crawl has ever heard of, deduplicated
 * by its Core text form (network + address + port, e.g. "127.0.0.1:18444"),
 * where each stands (queued → taken → done), and the FIFO of those still to
 * dial. It is the one place that knows whether an address already has its
 * record: `finish()` says so exactly once per address.
 *
 * Only ipv4/ipv6 addresses are dialled. onion, i2p and cjdns addresses are
 * recorded as skipped (no proxy support yet) and never queued, so they are
 * still reported and still deduplicated.
 *
 * Memory is the constraint: a full crawl learns millions of addresses. One
 * Map from text to a small-integer state (a Smi, stored inline) plus a ring
 * buffer of references to the same strings costs roughly 100 bytes per
 * address, measured in bench/. Callers should pass flat strings that do not
 * slice a larger one (V8 keeps a sliced string's parent alive).
 */
import { UsageError } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';

/**
 * queued: waiting to be dialled; taken: handed out (being visited); done: has
 * its final record; skipped: a non-IP address, recorded when learned.
 */
export type FrontierState = 'queued' | 'taken' | 'done' | 'skipped';

/** State codes stored as Map values; skipped addresses store their network. */
const QUEUED = 0;
const TAKEN = 1;
const DONE = 2;
const SKIPPED_BASE = 3;
/**
 * Flag over the state: gossip said the address advertises NODE_P2P_V2
 * (OR-ed over every report, as Core does), which decides its dial's
 * transport under --transport auto. Still a Smi: no allocation per address.
 */
const P2P_V2 = 8;
const STATE_MASK = 7;

/** Networks we cannot dial yet, in the order of their state codes. */
const SKIPPED_NETWORKS = ['onion', 'i2p', 'cjdns', 'ipv4', 'ipv6'] as const satisfies readonly AddressNetwork[];
type SkippedNetwork = (typeof SKIPPED_NETWORKS)[number];

const MIN_QUEUE_CAPACITY = 16;

export class Frontier {
  private readonly states = new Map<string, number>();
  /** Queued addresses in order; may also hold stale entries of addresses taken out of order (take()), skipped by next(). */
  private readonly queue = new AddressDeque();
  private queuedCount = 0;
  private takenCount = 0;
  private doneCount = 0;
  private skippedCount = 0;

  /**
   * Records an address. Returns true if it was new. An address to `dial`
   * (default: ipv4/ipv6 ones; onion, i2p and cjdns ones when a proxy, SAM
   * bridge or --cjdns reaches them) joins the back of the dial queue; the
   * others are recorded as skipped. `p2pV2`: gossip gave its services with
   * NODE_P2P_V2 (remembered for the dial's transport; OR-ed over reports).
   */
  add(text: string, network: AddressNetwork, dial: boolean = network === 'ipv4' || network === 'ipv6', p2pV2 = false): boolean {
    if (typeof text !== 'string' || text === '') throw new UsageError('ERR_BAD_ARGUMENT', 'Frontier.add needs a non-empty address text');
    const state = stateFor(network, dial);
    const known = this.states.get(text);
    if (known !== undefined) {
      if (p2pV2 && (known & P2P_V2) === 0) this.states.set(text, known | P2P_V2);
      return false;
    }
    this.states.set(text, p2pV2 ? state | P2P_V2 : state);
    if (state === QUEUED) {
      this.queue.pushBack(text);
      this.queuedCount++;
    } else this.skippedCount++;
    return true;
  }

  /**
   * Records an IPv4/IPv6 address that must not be dialled (the caller writes
   * its record and says why, e.g. a gossiped bad port). Returns true if it was new.
   */
  addSkipped(text: string, network: AddressNetwork): boolean {
    return this.add(text, network, false);
  }

  /** The next address to dial (oldest first), or undefined when none is queued. */
  next(): string | undefined {
    for (let text = this.queue.shift(); text !== undefined; text = this.queue.shift()) {
      const flagged = this.states.get(text)!;
      if ((flagged & STATE_MASK) !== QUEUED) continue; // taken out of order meanwhile
      this.states.set(text, TAKEN | (flagged & P2P_V2));
      this.queuedCount--;
      this.takenCount++;
      return text;
    }
    return undefined;
  }

  /**
   * Takes a known IP address out of turn (an explicit connectToNode): a
   * queued one is taken, a taken or done one stays as it is. Returns false
   * for an unknown or skipped address.
   */
  take(text: string): boolean {
    const flagged = this.states.get(text);
    if (flagged === undefined) return false;
    const state = flagged & STATE_MASK;
    if (state >= SKIPPED_BASE) return false;
    if (state === QUEUED) {
      // Its queue entry stays behind, stale: next() skips it.
      this.states.set(text, TAKEN | (flagged & P2P_V2));
      this.queuedCount--;
      this.takenCount++;
    }
    return true;
  }

  /**
   * The address has its final record: true the first time (write the record
   * now), false if it already had one or is a skipped address. An address
   * never seen is added as done. A queued one leaves the queue.
   */
  finish(text: string): boolean {
    const flagged = this.states.get(text);
    const state = flagged === undefined ? undefined : flagged & STATE_MASK;
    if (state === DONE || (state !== undefined && state >= SKIPPED_BASE)) return false;
    if (state === QUEUED) this.queuedCount--;
    else if (state === TAKEN) this.takenCount--;
    this.states.set(text, DONE | ((flagged ?? 0) & P2P_V2));
    this.doneCount++;
    return true;
  }

  /**
   * Puts an address taken with next() back at the FRONT of the queue (e.g.
   * the peer cap was reached): it is dialled next, never dropped. Requeueing
   * an address that is already queued, or already has its record, does nothing; an address never seen is
   * recorded as known. A skipped address cannot be dialled: ERR_BAD_ARGUMENT.
   */
  requeue(text: string): void {
    const flagged = this.states.get(text);
    const state = flagged === undefined ? undefined : flagged & STATE_MASK;
    if (state === QUEUED || state === DONE) return;
    if (state !== undefined && state >= SKIPPED_BASE) {
      throw new UsageError('ERR_BAD_ARGUMENT', `Frontier.requeue: ${text} is a skipped (non-IP) address`);
    }
    if (state === undefined && (typeof text !== 'string' || text === '')) {
      throw new UsageError('ERR_BAD_ARGUMENT', 'Frontier.requeue needs a non-empty address text');
    }
    if (state === TAKEN) this.takenCount--;
    this.states.set(text, QUEUED | ((flagged ?? 0) & P2P_V2));
    this.queuedCount++;
    this.queue.pushFront(text);
  }

  has(text: string): boolean {
    return this.states.has(text);
  }

  /** Whether gossip said this address advertises NODE_P2P_V2. */
  advertisesV2(text: string): boolean {
    return ((this.states.get(text) ?? 0) & P2P_V2) !== 0;
  }

  /** Where an address stands, or undefined if it was never added. */
  stateOf(text: string): FrontierState | undefined {
    const flagged = this.states.get(text);
    if (flagged === undefined) return undefined;
    const state = flagged & STATE_MASK;
    return state === QUEUED ? 'queued' : state === TAKEN ? 'taken' : state === DONE ? 'done' : 'skipped';
  }

  /** Every distinct address ever added (queued, taken, done and skipped). */
  get known(): number {
    return this.states.size;
  }

  /** Addresses waiting to be dialled. */
  get queued(): number {
    return this.queuedCount;
  }

  /** Non-IP addresses recorded but never queued. */
  get skipped(): number {
    return this.skippedCount;
  }

  /** Addresses handed out (next(), take()) that have no record yet. */
  get taken(): number {
    return this.takenCount;
  }

  /** IP addresses with their final record. */
  get done(): number {
    return this.doneCount;
  }

  /** The skipped addresses with their network, in the order they were first added. */
  *skippedAddresses(): IterableIterator<{ text: string; network: AddressNetwork }> {
    if (this.skippedCount === 0) return;
    for (const [text, flagged] of this.states) {
      const state = flagged & STATE_MASK;
      if (state >= SKIPPED_BASE) yield { text, network: SKIPPED_NETWORKS[state - SKIPPED_BASE] as SkippedNetwork };
    }
  }
}

function stateFor(network: AddressNetwork, dial: boolean): number {
  const skipped = SKIPPED_NETWORKS.indexOf(network as SkippedNetwork);
  if (skipped < 0) throw new UsageError('ERR_BAD_ARGUMENT', `Frontier.add: unknown network ${String(network)}`);
  return dial ? QUEUED : SKIPPED_BASE + skipped;
}

/**
 * A growable ring buffer of strings: O(1) at both ends, unlike
 * Array.prototype.shift/unshift which move every element.
 */
class AddressDeque {
  private items: Array<string | undefined> = filledArray(MIN_QUEUE_CAPACITY);
  private head = 0;
  length = 0;

  pushBack(text: string): void {
    if (this.length === this.items.length) this.resize(this.items.length * 2);
    this.items[(this.head + this.length) & (this.items.length - 1)] = text;
    this.length++;
  }

  pushFront(text: string): void {
    if (this.length === this.items.length) this.resize(this.items.length * 2);
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = text;
    this.length++;
  }

  shift(): string | undefined {
    if (this.length === 0) return undefined;
    const text = this.items[this.head];
    // Drop the reference so a dialled address is held only by the Map.
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    // Give memory back once a big queue has drained (hysteresis: quarter full).
    if (this.items.length > MIN_QUEUE_CAPACITY && this.length * 4 < this.items.length) this.resize(this.items.length / 2);
    return text;
  }

  /** Capacity stays a power of two so the index wrap is a mask. */
  private resize(capacity: number): void {
    const old = this.items;
    const next = filledArray(0);
    for (let i = 0; i < this.length; i++) next.push(old[(this.head + i) & (old.length - 1)]);
    while (next.length < capacity) next.push(undefined);
    this.items = next;
    this.head = 0;
  }
}

/**
 * Built with push, not `new Array(n)`: V8 gives large preallocated arrays
 * slow dictionary elements.
 */
function filledArray(capacity: number): Array<string | undefined> {
  const items: Array<string | undefined> = [];
  while (items.length < capacity) items.push(undefined);
  return items;
}
