import type { Clock } from './clock.js';

const noop = (): void => {};

/**
 * The abort machinery of one attempt that has a time limit or a caller's signal: a controller whose signal
 * the attempt context carries, and a promise that rejects when it fires, to race the attempt's steps against.
 */
export class AttemptGuard {
  readonly #controller = new AbortController();
  readonly #clock: Clock;
  readonly #userSignal: AbortSignal | undefined;
  readonly #onUserAbort: (() => void) | undefined;
  readonly #timer: unknown;
  #reject: (reason: unknown) => void = noop;
  /** Rejects with the abort reason when the guard fires; never resolves. */
  readonly aborted: Promise<never>;

  constructor(clock: Clock, limitMs: number, limitError: () => Error, userSignal: AbortSignal | undefined) {
    this.#clock = clock;
    this.aborted = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    // Nobody may be racing when it fires (the attempt already failed); that is not an unhandled rejection.
    this.aborted.catch(noop);
    this.#timer = limitMs === Number.POSITIVE_INFINITY ? undefined : clock.setTimeout(() => this.fire(limitError()), limitMs);
    this.#userSignal = userSignal;
    if (userSignal !== undefined) {
      const onUserAbort = (): void => this.fire(userSignal.reason);
      this.#onUserAbort = onUserAbort;
      userSignal.addEventListener('abort', onUserAbort, { once: true });
      if (userSignal.aborted) onUserAbort();
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts the attempt's signal (so sessions can cancel on the server), then rejects `aborted`. */
  fire(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.disarm();
    this.#controller.abort(reason);
    this.#reject(reason);
  }

  /** Stops the timer and the caller's-signal listener: the attempt is past the part a limit may interrupt. */
  disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#onUserAbort !== undefined) this.#userSignal?.removeEventListener('abort', this.#onUserAbort);
  }

  /** Settles with `value`, unless the guard fires first; a guard that already fired wins. */
  race<T>(value: T | PromiseLike<T>): Promise<T> {
    return Promise.race([this.aborted, value]);
  }
}
