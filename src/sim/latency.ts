/**
 * Delay model for the simulated network. Real crawls spend most of their
 * time waiting on far-away peers, so benchmarks need replies that take a
 * while, with a long tail. Log-normal: `medianMs` is the median, `tailMs`
 * the 99th percentile (default 10 × the median); draws are capped at 2 ×
 * the tail so one unlucky draw cannot stall a test, and a client whose step
 * timeout exceeds 2 × `maxMs` (accept delay + reply delay) never times out
 * on a node that works.
 */
import { UsageError } from '../errors.js';
import type { Prng } from './prng.js';

export interface LatencyOptions {
  medianMs: number;
  /** 99th percentile in ms; default 10 × medianMs. */
  tailMs?: number;
}

/** z of the 99th percentile of the standard normal. */
const Z99 = 2.326;

export class LatencyModel {
  private readonly sigma: number;
  /** No draw exceeds this. */
  readonly maxMs: number;

  constructor(
    readonly medianMs: number,
    readonly tailMs: number,
    private readonly rng: Prng,
  ) {
    this.sigma = tailMs > medianMs ? Math.log(tailMs / medianMs) / Z99 : 0;
    this.maxMs = Math.max(tailMs, medianMs) * 2;
  }

  static from(opts: LatencyOptions | false | undefined, rng: Prng): LatencyModel | null {
    if (opts === undefined || opts === false) return null;
    const { medianMs } = opts;
    const tailMs = opts.tailMs ?? medianMs * 10;
    if (!Number.isFinite(medianMs) || medianMs < 0 || !Number.isFinite(tailMs) || tailMs < 0) {
      throw new UsageError('ERR_BAD_OPTION', 'latency: medianMs and tailMs must be numbers >= 0');
    }
    if (medianMs === 0) return null;
    return new LatencyModel(medianMs, tailMs, rng);
  }

  sample(): number {
    return Math.min(this.maxMs, this.medianMs * Math.exp(this.sigma * this.rng.normal()));
  }
}
