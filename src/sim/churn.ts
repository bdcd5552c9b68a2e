/**
 * Churn for the simulated network: nodes that go down and come back on a
 * schedule, and nodes that change their version (user agent), with the truth
 * of when. Time is counted in epochs: epoch 0 is the start (every node up,
 * as planned, so a first crawl discovers everything); `advance()` — or a
 * timer every `epochMs` — starts the next one and the truth logs when it did.
 *
 * Schedules, drawn from the network's seed (its own PRNG stream):
 * - a *flapping* node (share `downShare` of the non-seed nodes that complete
 *   a handshake) has a period P (2-4 epochs), a phase and a down length
 *   D (1..P-1): from epoch 1 on it is down in epoch e when (e + phase) mod P < D.
 *   Down: its TCP connections are reset the moment they are accepted.
 * - an *upgrading* node (share `upgradeShare`, disjoint from the flapping
 *   ones) announces `upgradeAgent` from epoch `upgradeAt` (1-4) on.
 *
 * Hooks: the connection code asks `isDown(index)` when it accepts, and
 * `identity(node)` when it writes its version message.
 */
import { UsageError } from '../errors.js';
import { completesHandshake } from './behaviours.js';
import { Prng } from './prng.js';
import type { SimNodePlan, SimPlan } from './topology.js';

export interface ChurnOptions {
  /** Share of eligible nodes that go down and come back (default 0.2). */
  downShare?: number;
  /** Share of eligible nodes that change their user agent once (default 0.1). */
  upgradeShare?: number;
  /** The user agent upgrading nodes switch to (default '/Satoshi:31.0.0/'). */
  upgradeAgent?: string;
  /** Start a new epoch every this many ms; omit to advance by hand (tests). */
  epochMs?: number;
}

export interface ChurnSchedule {
  readonly addr: string;
  /** Flapping: down in epoch e ≥ 1 when (e + phase) mod period < downFor. */
  readonly flap?: { readonly period: number; readonly phase: number; readonly downFor: number };
  /** Upgrading: from this epoch on, the node announces `to` instead of `from`. */
  readonly upgrade?: { readonly epoch: number; readonly from: string; readonly to: string; readonly protocolVersion: number };
}

export interface ChurnTruth {
  /** The current epoch. */
  readonly epoch: number;
  /** When each epoch began (unix ms), index = epoch. */
  readonly epochStartedAt: readonly number[];
  readonly nodes: readonly ChurnSchedule[];
}

/** Whether a node with this schedule is up in `epoch` (pure: tests compute expectations with it). */
export function churnIsUp(s: ChurnSchedule, epoch: number): boolean {
  if (s.flap === undefined || epoch < 1) return true;
  return (epoch + s.flap.phase) % s.flap.period >= s.flap.downFor;
}

/** The user agent a node with this schedule announces in `epoch`, or undefined if it never changes. */
export function churnAgent(s: ChurnSchedule, epoch: number): string | undefined {
  if (s.upgrade === undefined) return undefined;
  return epoch >= s.upgrade.epoch ? s.upgrade.to : s.upgrade.from;
}

export class SimChurn {
  private epochNow = 0;
  private readonly startedAt: number[] = [Date.now()];
  private readonly byIndex = new Map<number, ChurnSchedule>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Set<(epoch: number) => void>();

  constructor(plan: SimPlan, opts: ChurnOptions) {
    const downShare = share('downShare', opts.downShare, 0.2);
    const upgradeShare = share('upgradeShare', opts.upgradeShare, 0.1);
    if (downShare + upgradeShare > 1) throw new UsageError('ERR_BAD_OPTION', 'churn: downShare + upgradeShare must be at most 1');
    const to = opts.upgradeAgent ?? '/Satoshi:31.0.0/';
    const rng = new Prng(plan.seed ^ 0x0c4a7a11);
    const eligible = plan.nodes.filter((n) => !n.seed && completesHandshake(n.behaviour)).map((n) => n.index);
    rng.shuffle(eligible);
    const flapping = Math.round(eligible.length * downShare);
    const upgrading = Math.round(eligible.length * upgradeShare);
    eligible.forEach((index, k) => {
      const node = plan.nodes[index] as SimNodePlan;
      if (k < flapping) {
        const period = rng.int(2, 4);
        this.byIndex.set(index, { addr: node.addr, flap: { period, phase: rng.int(0, period - 1), downFor: rng.int(1, period - 1) } });
      } else if (k < flapping + upgrading && node.userAgent !== to) {
        this.byIndex.set(index, { addr: node.addr, upgrade: { epoch: rng.int(1, 4), from: node.userAgent, to, protocolVersion: node.protocolVersion } });
      }
    });
    if (opts.epochMs !== undefined) {
      if (!Number.isFinite(opts.epochMs) || opts.epochMs <= 0) throw new UsageError('ERR_BAD_OPTION', `churn: epochMs must be positive, got ${opts.epochMs}`);
      this.timer = setInterval(() => this.advance(), opts.epochMs);
      this.timer.unref();
    }
  }

  get epoch(): number {
    return this.epochNow;
  }

  /** Starts the next epoch; returns its number. */
  advance(): number {
    this.epochNow++;
    this.startedAt.push(Date.now());
    for (const l of this.listeners) l(this.epochNow);
    return this.epochNow;
  }

  onEpoch(listener: (epoch: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hook: is node `index` down right now? */
  isDown(index: number): boolean {
    const s = this.byIndex.get(index);
    return s !== undefined && !churnIsUp(s, this.epochNow);
  }

  /** Hook: the version fields node `node` announces right now. */
  identity(node: SimNodePlan): { userAgent: string; protocolVersion: number } {
    const s = this.byIndex.get(node.index);
    const ua = s === undefined ? undefined : churnAgent(s, this.epochNow);
    return ua === undefined ? node : { userAgent: ua, protocolVersion: node.protocolVersion };
  }

  truth(): ChurnTruth {
    return { epoch: this.epochNow, epochStartedAt: [...this.startedAt], nodes: structuredClone([...this.byIndex.values()]) };
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function share(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw new UsageError('ERR_BAD_OPTION', `churn: ${name} must be between 0 and 1, got ${String(value)}`);
  return value;
}
