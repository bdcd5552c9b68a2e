/**
 * The decoded addr / addrv2 message: `list` is the compact AddrList the
 * decoder built; `entries` keeps the `readonly AddrEntry[]` contract of the
 * Message type for every consumer that wants objects, materialised on first
 * access and cached.
 *
 * `entries` is an OWN ENUMERABLE accessor (not a prototype getter) on purpose:
 * Object.keys / Object.entries / spread / JSON.stringify / vitest's toEqual
 * then see exactly `{ command, entries }`, as with the plain object this
 * replaced. `list` lives behind a private field and a prototype getter, so it
 * is invisible to all of those.
 *
 * Across threads: a structured clone (postMessage, Piscina results) keeps
 * neither the class nor `list`; it reads the getter, so the clone is a plain
 * `{ command, entries }` with every entry materialised (the whole saving is
 * lost). Send text forms across threads instead (as src/crawl does: the peer
 * worker posts `[text, network]` pairs, never a Message).
 */
import type { AddrList } from './addr-list.js';
import type { AddrEntry } from './types.js';

let entriesDescriptor: PropertyDescriptor;

export class AddrMessage {
  readonly command: 'addr' | 'addrv2';
  declare readonly entries: readonly AddrEntry[];
  #list: AddrList;
  #entries: AddrEntry[] | null = null;

  constructor(command: 'addr' | 'addrv2', list: AddrList) {
    this.command = command;
    this.#list = list;
    Object.defineProperty(this, 'entries', entriesDescriptor);
  }

  /** The compact decoded form: read fields per index without materialising entries. */
  get list(): AddrList {
    return this.#list;
  }

  /** True once `entries` has been materialised (lets tests and benchmarks see what a consumer paid for). */
  get materialised(): boolean {
    return this.#entries !== null;
  }

  static {
    // One shared descriptor: the getter reads the private fields of whichever message it is called on.
    entriesDescriptor = {
      enumerable: true,
      configurable: false,
      get(this: AddrMessage): readonly AddrEntry[] {
        return (this.#entries ??= this.#list.toEntries());
      },
    };
  }
}
