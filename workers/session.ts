/**
 * What runs inside a worker thread: one long-lived session that owns many
 * peer sockets. The Piscina task that started it stays pending until the
 * session drains, so Piscina never treats the worker as idle while it holds
 * sockets (and the pool uses atomics:'disabled', so an idle worker is never
 * parked in Atomics.wait either).
 *
 * Dials and drops arrive on the data port, and peer events leave on it,
 * batched per event-loop turn; drain/memory/crash come over comlink on the
 * control port (src/shared/messages.ts).
 */
import { resourceLimits, threadId, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/shared/comlink-node.js';
import { pino, type Logger } from 'pino';
import { NETWORKS } from '../src/wire/index.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { AllowList } from '../src/shared/allow-list.js';
import { PeerConnection, type PeerHost } from './peer-connection.js';
import type { PeerEvent, SessionCommand, SessionControl, SessionInit, WorkerFigures, WorkerMemory } from '../src/shared/messages.js';
import { DeadlineTicker } from './ticker.js';
import { Transports } from './transports/index.js';
import { RecentAddresses, recentKey } from './recent-addresses.js';
import { dialTransport, type Transport, type TransportOption } from '../src/shared/transport.js';

/** Flush early when a turn produces this many events, to bound one message's size. */
const MAX_EVENTS_PER_BATCH = 512;
/**
 * At most one batch per this many ms (a turn after a quiet spell flushes at
 * once). Every message wakes the main thread, and on a busy machine each
 * wake-up is a context switch: when peers end one or two per event-loop turn,
 * posting every turn cost more CPU than the events themselves. 2 ms is small
 * next to any peer's lifetime (a visit lasts at least its quiet period).
 */
const MIN_FLUSH_GAP_MS = 2;

export class WorkerSession implements PeerHost {
  readonly net;
  readonly cap: PeerCap;
  readonly slot: number;
  readonly allow: AllowList | null;
  readonly mode;
  readonly timeouts;
  readonly ticker: DeadlineTicker;
  readonly log: Logger;
  readonly recentAddresses = new RecentAddresses();
  readonly transports: Transports | null;
  readonly transport: TransportOption;

  private readonly conns = new Map<string, PeerConnection>();
  private readonly dataPort: MessagePort;
  private batch: PeerEvent[] = [];
  private flushScheduled = false;
  private lastFlushAt = 0;
  private draining = false;
  private endSession: (() => void) | null = null;
  readonly ended: Promise<void>;
  /** This thread's own figures (SessionControl.figures, for metrics). */
  private dialled = 0;
  private reachable = 0;
  private failed = 0;
  private addrsReported = 0;

  constructor(init: SessionInit, log: Logger) {
    const net = NETWORKS[init.network];
    this.net = net;
    this.cap = PeerCap.attach(init.capBuffer);
    this.slot = init.slot;
    this.allow = init.allowAny ? null : AllowList.parse(init.allow);
    this.mode = init.mode;
    this.timeouts = init.timeouts;
    // A SessionInit built by hand (tests) may not name one.
    this.transport = init.transport ?? 'auto';
    this.ticker = new DeadlineTicker(init.tickMs);
    this.transports = init.reach === undefined ? null : new Transports(init.reach, this.allow, init.torProxyCaps ?? [], init.slot);
    this.log = log;
    this.dataPort = init.data;
    this.dataPort.on('message', (cmd: SessionCommand) => this.command(cmd));
    this.ended = new Promise<void>((resolve) => {
      this.endSession = resolve;
    });
    this.emit({ kind: 'hello', addr: '', threadId });
  }

  readonly control: SessionControl = {
    figures: (): WorkerFigures => ({
      slot: this.slot,
      open: this.conns.size,
      dialled: this.dialled,
      reachable: this.reachable,
      failed: this.failed,
      addrsReported: this.addrsReported,
    }),
    drain: async (): Promise<void> => {
      this.draining = true;
      for (const conn of [...this.conns.values()]) conn.stop(true);
      this.ticker.stop();
      this.transports?.close();
      this.flush();
      this.endSession?.();
    },
    memory: (collect: boolean): WorkerMemory => {
      const gc = (globalThis as { gc?: () => void }).gc;
      const collected = collect && typeof gc === 'function';
      if (collected) gc();
      const m = process.memoryUsage();
      const young = resourceLimits.maxYoungGenerationSizeMb;
      return {
        slot: this.slot,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        youngGenerationLimitMb: young !== undefined && young > 0 ? young : null,
        collected,
      };
    },
    crash: (how: 'exception' | 'oom' = 'exception'): void => {
      setImmediate(() => {
        if (how === 'oom') {
          // Allocate until V8 hits the thread's resourceLimits and Node ends it (ERR_WORKER_OUT_OF_MEMORY).
          const hold: number[][] = [];
          for (;;) hold.push(new Array<number>(1 << 16).fill(hold.length));
        }
        throw new Error('simulated worker crash');
      });
    },
  };

  /** Dial / drop from the data port. */
  private command(cmd: SessionCommand): void {
    if (cmd.op === 'drop') {
      // Unknown: it already ended (its 'end' event is on its way).
      this.conns.get(cmd.addr)?.stop(cmd.abortive === true);
      return;
    }
    if (cmd.op === 'forget') {
      for (let i = 0; i < cmd.texts.length; i++) this.recentAddresses.forget(recentKey(cmd.texts[i]!, cmd.networks[i]!));
      return;
    }
    if (this.draining) {
      for (const addr of cmd.addrs) this.emit({ kind: 'end', addr, error: { code: 'ERR_STOPPED', message: 'worker is draining' } });
      return;
    }
    cmd.addrs.forEach((addr, i) => this.dial(addr, cmd.transports?.[i]));
  }

  /** `transport`: the main thread's choice (it knows what gossip said); else the option's for unknown services. */
  private dial(addr: string, transport?: Transport): void {
    if (this.conns.has(addr)) {
      // The main thread never dials one address twice at once; refuse rather than leak.
      this.emit({ kind: 'end', addr, error: { code: 'ERR_ALREADY_STARTED', message: `${addr} is already open on this worker` } });
      return;
    }
    this.dialled++;
    const conn = PeerConnection.dial(this, addr, transport ?? dialTransport(this.transport, undefined));
    if (conn.isOpen) this.conns.set(addr, conn);
  }

  emit(ev: PeerEvent): void {
    // The main thread acts on neither: posting them would only cost a
    // structured clone and, often, a message (and a wake-up) of their own.
    if (ev.kind === 'connected' || ev.kind === 'reachable') return;
    if (ev.kind === 'addrs') this.addrsReported += ev.texts.length;
    else if (ev.kind === 'end') {
      if (ev.info !== undefined) this.reachable++;
      else this.failed++;
    }
    this.batch.push(ev);
    if (this.batch.length >= MAX_EVENTS_PER_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      const wait = this.lastFlushAt + MIN_FLUSH_GAP_MS - performance.now();
      if (wait > 0) setTimeout(flushSession, wait, this);
      else setImmediate(flushSession, this);
    }
  }

  /** Last act of a thread dying from an uncaught exception: reset every socket now. */
  resetAll(): void {
    for (const conn of this.conns.values()) conn.resetSocket();
  }

  closed(conn: PeerConnection): void {
    if (this.conns.get(conn.addr) === conn) this.conns.delete(conn.addr);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.batch.length === 0) return;
    this.lastFlushAt = performance.now();
    const out = this.batch;
    this.batch = [];
    this.dataPort.postMessage(out);
  }
}

function flushSession(s: WorkerSession): void {
  s.flush();
}

/** Worker-side logger: synchronous to fd 2, stderr like every log line (async output is lost when a thread is terminated). */
function workerLogger(level: string, slot: number): Logger {
  return pino({ level, base: { worker: slot } }, pino.destination({ dest: 2, sync: true }));
}

/**
 * Refused and reset connections are a third of a crawl's dials or more, and
 * node:net builds an Error with a full stack trace for each: it raises
 * Error.stackTraceLimit to Infinity while capturing, unless the limit is
 * read-only. A peer's failure leaves the worker as { code, message } and
 * its stack is never read, so below debug logging the thread captures none
 * (~20 µs saved per failed dial). Node's internals check writability before
 * assigning, and no dependency here assigns it.
 */
function captureNoStackTraces(): void {
  Object.defineProperty(Error, 'stackTraceLimit', { value: 0, writable: false, configurable: true });
}

/** The body of the session task: serve until drained. */
export async function runSession(init: SessionInit): Promise<void> {
  if (init.logLevel !== 'debug' && init.logLevel !== 'trace') captureNoStackTraces();
  const session = new WorkerSession(init, workerLogger(init.logLevel, init.slot));
  // A monitor runs before the thread dies and does not stop it from dying.
  // An uncaught exception: reset every socket first (a reading peer drops the connection at once).
  // terminate() and out-of-memory run nothing here: their teardown closes the sockets with a FIN,
  // and the pool reclaims this thread's cap slots only once the kernel shows the peers closed their
  // side (src/engine/socket-table.ts).
  process.on('uncaughtExceptionMonitor', () => session.resetAll());
  Comlink.expose(session.control, nodeEndpoint(init.control));
  await session.ended;
  // Let the last batch and the drain() reply leave before the ports close.
  await new Promise((r) => setImmediate(r));
  init.data.close();
  init.control.close();
}
