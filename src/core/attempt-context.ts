import type { AttemptContext } from './attempt.js';
import type { SignalSource } from './attempt-guard.js';
import type { Clock } from './clock.js';

/**
 * The read-only context of one attempt. Getters over #private fields rather than Object.freeze: assigning
 * still throws (strict mode), and creating one costs ~10 ns instead of ~90 ns on the hot path.
 */
export class Attempt implements AttemptContext {
  readonly #attempt: number;
  readonly #signals: SignalSource;
  readonly #readOnly: boolean;
  readonly #name: string;
  readonly #startedAt: number;
  readonly #limitAt: number;
  readonly #clock: Clock;

  constructor(
    attempt: number,
    signals: SignalSource,
    readOnly: boolean,
    name: string,
    startedAt: number,
    limitAt: number,
    clock: Clock,
  ) {
    this.#attempt = attempt;
    this.#signals = signals;
    this.#readOnly = readOnly;
    this.#name = name;
    this.#startedAt = startedAt;
    this.#limitAt = limitAt;
    this.#clock = clock;
  }

  get attempt(): number {
    return this.#attempt;
  }

  get signal(): AbortSignal {
    return this.#signals.signal;
  }

  /**
   * True once `signal` aborted, read without making it: a guard makes its AbortController only when the
   * signal is read, and one costs 10 to 30 µs here, so the runner's per-statement checks use this instead.
   */
  get stopped(): boolean {
    const signals = this.#signals;
    return signals.fired ?? signals.signal.aborted;
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  get name(): string {
    return this.#name;
  }

  get startedAt(): number {
    return this.#startedAt;
  }

  /** Milliseconds left before the attempt's limit or the deadline, whichever is nearer; Infinity if none. */
  remainingMs(): number {
    return this.#limitAt === Number.POSITIVE_INFINITY
      ? this.#limitAt
      : Math.max(0, this.#limitAt - this.#clock.now());
  }

  toJSON(): object {
    return { attempt: this.#attempt, readOnly: this.#readOnly, name: this.#name, startedAt: this.#startedAt };
  }
}

/** Whether the attempt was stopped (its limit, the deadline or the caller's abort), without making its signal. */
export function isStopped(context: AttemptContext): boolean {
  return context instanceof Attempt ? context.stopped : context.signal.aborted;
}
