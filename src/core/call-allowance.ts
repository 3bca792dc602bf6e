import { type Clock, systemClock } from './clock.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * The retries one owning call (a transaction and every step nested in it) may still make, and its deadline
 * (rule E14): the owner's restarts and its nested steps' retries draw from the same allowance, so one call's
 * total work is bounded by the owner's policy, never multiplied by nesting. Passed to execute as `budget`;
 * a shared {@link RetryBudget} behind it still has the last word. execute makes one for every call that
 * has none and hands it on, through the async context, to every call started inside its attempts.
 */
export class CallAllowance {
  readonly #shared: RetryBudget | undefined;
  readonly #deadlineAt: number;
  readonly #clock: Clock;
  #retries: number;

  constructor(retries: number, deadlineAt: number, shared?: RetryBudget, clock: Clock = systemClock) {
    this.#retries = retries;
    this.#deadlineAt = deadlineAt;
    this.#shared = shared;
    this.#clock = clock;
  }

  /** Retries left to the owner and its nested steps together. */
  get retries(): number {
    return this.#retries;
  }

  /** The owner's deadline (epoch ms of the clock it was made with); Infinity when it has none. */
  get deadlineAt(): number {
    return this.#deadlineAt;
  }

  /** Milliseconds left before the owner's deadline, on the owner's clock; Infinity when it has none. */
  msLeft(): number {
    return this.#deadlineAt === Number.POSITIVE_INFINITY
      ? Number.POSITIVE_INFINITY
      : this.#deadlineAt - this.#clock.now();
  }

  /**
   * True when a retry would be granted now: retries left to the owner, and a token in the shared budget
   * (which other calls may take meanwhile: a forecast, not a reservation).
   */
  mayRetry(): boolean {
    return this.#retries > 0 && (this.#shared === undefined || this.#shared.available >= 1);
  }

  /** Counts the call in the shared budget, if any. */
  recordCall(): void {
    this.#shared?.recordCall();
  }

  /**
   * Takes one retry; false when the owner's allowance (or the shared budget) is spent. A retry that rides
   * out a server outage past the policy's count (`outage`) is bounded by time, not by this allowance.
   */
  tryRetry(outage = false): boolean {
    if (!outage && this.#retries <= 0) return false;
    if (this.#shared !== undefined && !this.#shared.tryRetry()) return false;
    if (!outage) this.#retries -= 1;
    return true;
  }
}
