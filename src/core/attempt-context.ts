import type { AttemptContext } from './attempt.js';
import type { Clock } from './clock.js';

/** The frozen context of one attempt; a class so remainingMs() costs no closure per attempt. */
export class Attempt implements AttemptContext {
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly readOnly: boolean;
  readonly name: string;
  readonly startedAt: number;
  readonly #limitAt: number;
  readonly #clock: Clock;

  constructor(
    attempt: number,
    signal: AbortSignal,
    readOnly: boolean,
    name: string,
    startedAt: number,
    limitAt: number,
    clock: Clock,
  ) {
    this.attempt = attempt;
    this.signal = signal;
    this.readOnly = readOnly;
    this.name = name;
    this.startedAt = startedAt;
    this.#limitAt = limitAt;
    this.#clock = clock;
    Object.freeze(this);
  }

  /** Milliseconds left before the attempt's limit or the deadline, whichever is nearer; Infinity if none. */
  remainingMs(): number {
    return this.#limitAt === Number.POSITIVE_INFINITY ? this.#limitAt : Math.max(0, this.#limitAt - this.#clock.now());
  }
}
