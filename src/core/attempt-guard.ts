import { onAbort } from './abort-listener.js';
import type { Clock } from './clock.js';

/** Whatever can hand out an attempt's signal: a guard, or the shared never-aborting source. */
export interface SignalSource {
  readonly signal: AbortSignal;
  /** Whether `signal` has aborted, where that can be told without making the signal. */
  readonly fired?: boolean;
}

/**
 * The abort machinery of one attempt that has a time limit or a caller's signal. The AbortController is
 * made only if someone reads `signal` (most ops never do), and racing costs one promise per awaited step.
 */
export class AttemptGuard implements SignalSource {
  readonly #clock: Clock;
  // Stops waiting for the caller's signal (one listener per signal, shared by every call that gave it).
  readonly #stopWatching: (() => void) | undefined;
  readonly #timer: unknown;
  #controller: AbortController | undefined;
  #fired = false;
  #reason: unknown;
  #rejectPending: ((reason: unknown) => void) | undefined;

  constructor(clock: Clock, limitMs: number, limitError: () => Error, userSignal: AbortSignal | undefined) {
    this.#clock = clock;
    this.#timer =
      limitMs === Number.POSITIVE_INFINITY
        ? undefined
        : clock.setTimeout(() => this.fire(limitError()), limitMs);
    if (userSignal?.aborted === true) this.fire(userSignal.reason);
    else if (userSignal !== undefined)
      this.#stopWatching = onAbort(userSignal, (reason) => this.fire(reason));
  }

  /** Aborts when the guard fires, with the AttemptTimeoutError, DeadlineExceededError or caller's reason. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#fired) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** True once the limit passed or the caller aborted. */
  get fired(): boolean {
    return this.#fired;
  }

  /** Aborts the attempt's signal first (sessions cancel the statement on it), then fails the awaited step. */
  fire(reason: unknown): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#reason = reason;
    this.disarm();
    this.#controller?.abort(reason);
    this.#rejectPending?.(reason);
  }

  /** Stops the timer and the caller's-signal listener: the attempt is past the part a limit may interrupt. */
  disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#stopWatching?.();
  }

  /** Settles like `value`, unless the guard fires first; a guard that already fired wins. */
  race<T>(value: T | PromiseLike<T>): T | Promise<T> {
    const thenable = isThenable(value);
    if (this.#fired) {
      // The abandoned step may still reject later: that must not surface as an unhandled rejection.
      if (thenable) value.then(undefined, ignore);
      return Promise.reject(this.#reason);
    }
    if (!thenable) return value;
    return new Promise<T>((resolve, reject) => {
      this.#rejectPending = reject;
      value.then(resolve, reject);
    });
  }
}

function ignore(): void {}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
