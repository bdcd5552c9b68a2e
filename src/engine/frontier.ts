/**
 * The crawl frontier: every address the crawl has ever heard of, deduplicated
 * by its Core text form (network + address + port, e.g. "127.0.0.1:18444"),
 * and the FIFO of those still to dial.
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

export type FrontierState = 'queued' | 'taken' | 'skipped';

/** State codes stored as Map values; skipped addresses store their network. */
const QUEUED = 0;
const TAKEN = 1;
const SKIPPED_BASE = 2;

/** Networks we cannot dial yet, in the order of their state codes. */
const SKIPPED_NETWORKS = ['onion', 'i2p', 'cjdns'] as const satisfies readonly AddressNetwork[];
type SkippedNetwork = (typeof SKIPPED_NETWORKS)[number];

const MIN_QUEUE_CAPACITY = 16;

export class Frontier {
  private readonly states = new Map<string, number>();
  private readonly queue = new AddressDeque();
  private skippedCount = 0;

  /**
   * Records an address. Returns true if it was new. ipv4/ipv6 addresses join
   * the back of the dial queue; other networks are recorded as skipped.
   */
  add(text: string, network: AddressNetwork): boolean {
    if (typeof text !== 'string' || text === '') throw new UsageError('ERR_BAD_ARGUMENT', 'Frontier.add needs a non-empty address text');
    const state = stateFor(network);
    if (this.states.has(text)) return false;
    this.states.set(text, state);
    if (state === QUEUED) this.queue.pushBack(text);
    else this.skippedCount++;
    return true;
  }

  /** The next address to dial (oldest first), or undefined when none is queued. */
  next(): string | undefined {
    const text = this.queue.shift();
    if (text !== undefined) this.states.set(text, TAKEN);
    return text;
  }

  /**
   * Puts an address taken with next() back at the FRONT of the queue (e.g.
   * the peer cap was reached): it is dialled next, never dropped. Requeueing
   * an address that is already queued does nothing; an address never seen is
   * recorded as known. A skipped address cannot be dialled: ERR_BAD_ARGUMENT.
   */
  requeue(text: string): void {
    const state = this.states.get(text);
    if (state === QUEUED) return;
    if (state !== undefined && state >= SKIPPED_BASE) {
      throw new UsageError('ERR_BAD_ARGUMENT', `Frontier.requeue: ${text} is a skipped (non-IP) address`);
    }
    if (state === undefined && (typeof text !== 'string' || text === '')) {
      throw new UsageError('ERR_BAD_ARGUMENT', 'Frontier.requeue needs a non-empty address text');
    }
    this.states.set(text, QUEUED);
    this.queue.pushFront(text);
  }

  has(text: string): boolean {
    return this.states.has(text);
  }

  /** Where an address stands, or undefined if it was never added. */
  stateOf(text: string): FrontierState | undefined {
    const state = this.states.get(text);
    if (state === undefined) return undefined;
    return state === QUEUED ? 'queued' : state === TAKEN ? 'taken' : 'skipped';
  }

  /** Every distinct address ever added (queued, taken and skipped). */
  get known(): number {
    return this.states.size;
  }

  /** Addresses waiting to be dialled. */
  get queued(): number {
    return this.queue.length;
  }

  /** Non-IP addresses recorded but never queued. */
  get skipped(): number {
    return this.skippedCount;
  }

  /** Addresses handed out by next() and not requeued. */
  get taken(): number {
    return this.states.size - this.queue.length - this.skippedCount;
  }

  /** The skipped addresses with their network, in the order they were first added. */
  *skippedAddresses(): IterableIterator<{ text: string; network: AddressNetwork }> {
    if (this.skippedCount === 0) return;
    for (const [text, state] of this.states) {
      if (state >= SKIPPED_BASE) yield { text, network: SKIPPED_NETWORKS[state - SKIPPED_BASE] as SkippedNetwork };
    }
  }
}

function stateFor(network: AddressNetwork): number {
  if (network === 'ipv4' || network === 'ipv6') return QUEUED;
  const skipped = SKIPPED_NETWORKS.indexOf(network as SkippedNetwork);
  if (skipped < 0) throw new UsageError('ERR_BAD_ARGUMENT', `Frontier.add: unknown network ${String(network)}`);
  return SKIPPED_BASE + skipped;
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
