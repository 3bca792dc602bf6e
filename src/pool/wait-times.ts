/** Percentiles of the last {@link WaitTimes} samples, ms. */
export interface WaitTimePercentiles {
  /** How many acquires had to wait (for a release or a new connection) since the pool opened. */
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

const size = 1024;

/**
 * The last 1024 acquire wait times in a fixed ring (no allocation per sample); percentiles are computed
 * when stats are read, not when waits are recorded.
 */
export class WaitTimes {
  readonly #ring = new Float64Array(size);
  #count = 0;

  record(ms: number): void {
    this.#ring[this.#count % size] = ms;
    this.#count += 1;
  }

  percentiles(): WaitTimePercentiles {
    const n = Math.min(this.#count, size);
    if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#ring.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    return { count: this.#count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
  }
}
