import { type Clock, systemClock } from './clock.js';
import {
  expectFiniteAtLeast,
  expectOptionsObject,
  expectPositive,
  invalid,
  orDefault,
  rejectUnknownKeys,
} from './validate.js';

/** What a {@link RetryBudget} accepts. */
export interface RetryBudgetOptions {
  /** Retries allowed per call made, over the window. Default 0.2 (20% extra load at most). */
  readonly ratio?: number;
  /** Retries always allowed per second, so a quiet service can still retry. Default 10. */
  readonly minRetriesPerSecond?: number;
  /** How long a call or a retry counts, ms. Default 10000. */
  readonly ttlMs?: number;
  /** Only `now()` is used. */
  readonly clock?: Pick<Clock, 'now'>;
}

const known: ReadonlySet<string> = new Set(['ratio', 'minRetriesPerSecond', 'ttlMs', 'clock']);
const slots = 10;

/**
 * A token bucket shared by many calls that caps retries at `ratio` of recent calls plus a per-second floor
 * (Finagle's RetryBudget, rule E11). Calls and retries count for `ttlMs`, in ten slots.
 * @example const budget = new RetryBudget({ ratio: 0.1 }); await execute(() => pool.query('SELECT 1'), { budget, readOnly: true });
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #slotMs: number;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #calls = new Float64Array(slots);
  readonly #retries = new Float64Array(slots);
  #slot = Number.NEGATIVE_INFINITY;

  constructor(options?: RetryBudgetOptions) {
    expectOptionsObject(options, 'new RetryBudget()');
    const o = options ?? {};
    rejectUnknownKeys(o, known, 'new RetryBudget()');
    this.#ratio = expectFiniteAtLeast('ratio', orDefault(o.ratio, 0.2), 0);
    const perSecond = expectFiniteAtLeast('minRetriesPerSecond', orDefault(o.minRetriesPerSecond, 10), 0);
    const ttlMs = expectPositive('ttlMs', orDefault(o.ttlMs, 10_000));
    const clock = orDefault(o.clock, systemClock);
    if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
      invalid('clock', 'an object with a now() method', clock);
    }
    this.#reserve = (perSecond * ttlMs) / 1000;
    this.#slotMs = ttlMs / slots;
    this.#clock = clock;
  }

  /** Counts one call (execute does this once per call, not per attempt). */
  recordCall(): void {
    this.#calls[this.#advance()]! += 1;
  }

  /** Takes one retry from the budget; false means the retry is refused and the caller should fail fast. */
  tryRetry(): boolean {
    const index = this.#advance();
    if (this.#balance() < 1) return false;
    this.#retries[index]! += 1;
    return true;
  }

  /** Whole retries the budget would allow right now. */
  get available(): number {
    this.#advance();
    return Math.max(0, Math.floor(this.#balance()));
  }

  #balance(): number {
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < slots; i++) {
      calls += this.#calls[i]!;
      retries += this.#retries[i]!;
    }
    // The epsilon keeps 0.2 * 5 calls from rounding down to zero whole retries.
    return this.#reserve + this.#ratio * calls - retries + 1e-9;
  }

  /** Moves the window to now, clearing slots that aged out; returns the current slot's index. */
  #advance(): number {
    const slot = Math.floor(this.#clock.now() / this.#slotMs);
    if (slot > this.#slot) {
      const stale = Math.min(slots, slot - this.#slot);
      for (let i = 1; i <= stale; i++) {
        const index = (((slot - stale + i) % slots) + slots) % slots;
        this.#calls[index] = 0;
        this.#retries[index] = 0;
      }
      this.#slot = slot;
    }
    return ((slot % slots) + slots) % slots;
  }
}
